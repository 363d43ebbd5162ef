"""The training engine: the skorch net, optimizer, losses, progress, data-parallel
training and the thread policy."""
