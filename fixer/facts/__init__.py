"""Facts: typed state of a node, read in one batched remote exec and parsed by pure parsers."""
