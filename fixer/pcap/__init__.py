"""Packet captures: read pcap/pcapng, reassemble TCP, parse TLS handshakes, name what went wrong."""
