"""Model providers behind one batch-shaped contract, resolved by ``provider/name``."""
