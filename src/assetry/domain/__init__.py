"""Pure domain: the model, converter specs, geometry and the ports adapters implement."""
