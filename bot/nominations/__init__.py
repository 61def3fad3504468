"""WG nominations outside the chat: one-time export links (web) and the command line."""
