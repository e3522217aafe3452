"""The JSON-RPC 2.0 methods of the original image service (kaiju-images), over the same
services as the REST API: images.* and files.*. The envelope is domain/jsonrpc.py, the
row shapes domain/rows.py, the endpoint web/routes/rpc.py; docs/rpc.md maps each method
to the REST API."""
