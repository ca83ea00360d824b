"""Microsoft Teams: every botbuilder import of the code base lives in this package."""
