"""Host-key policy names (a leaf module: the CLI lists them without importing the SSH stack)."""

HOST_KEY_POLICIES = ("strict", "accept-new")
