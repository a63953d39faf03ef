"""Pure Slack message builders, one module per capability: outcome in, Block Kit message out."""
