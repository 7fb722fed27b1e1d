"""The request path's plumbing, shared by every feature: the service prefix, input checks,
redirects kept on the Hub's origin, and the base form."""
