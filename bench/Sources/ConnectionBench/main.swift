// Connection benchmark: filled in by the WebSocket server issue.
print("connection benchmark not written yet")
