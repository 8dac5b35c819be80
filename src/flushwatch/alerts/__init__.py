"""Alert rules, their TOML configuration, sinks (webhooks, terminal) and the dispatcher."""
