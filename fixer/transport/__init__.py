"""SSH transport: sessions, host-key policies, become."""
