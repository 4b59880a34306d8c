"""`hubforce run`: the ASGI app receiving webhooks, outbound messages and sync hooks."""
