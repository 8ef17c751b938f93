"""`fixer apply` and `fixer rollback`: rolling, journaled, compare-and-swap changes on nodes."""
