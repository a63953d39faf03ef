"""The only code that talks to AWS and Slack."""
