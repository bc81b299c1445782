"""The pure per-kind behaviour (defaulting, validation, tables, field selectors) of every served kind."""
