"""Steward: keeps ECS services on AWS cheap and healthy, and tells the team in Slack what it did."""
