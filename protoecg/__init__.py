"""ProtoECG Review: train ProtoECGNet, project its prototypes, have clinicians review them."""

__version__ = "0.1.0"
