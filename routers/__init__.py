"""HTTP only: each module parses the request, calls one service, and shapes the answer."""
