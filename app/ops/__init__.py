"""Operations: the public health check and the status page (Hub, token scopes, database,
settings) for the Hub admin."""
