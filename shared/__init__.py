"""The API contract in code: schemas, money and error codes shared by server and desktop."""

API_VERSION = "1"
