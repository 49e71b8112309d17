"""One module per ``protoecg`` command (see ``protoecg.cli`` for the contract)."""
