"""The Adaptive Cards 1.5 JSON schema (vendored) and the card checker every card test uses."""
