"""The HTTP edge: the server protocol, middleware, body limits, caching headers, answers and problem+json."""
