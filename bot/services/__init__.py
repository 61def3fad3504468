"""Services: what the bot does with each event, independent of the Teams edge."""
