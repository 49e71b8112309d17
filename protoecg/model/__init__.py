"""Stage 2: ProtoECGNet (three prototype branches + fusion) and its black-box twin.

The networks load torch when first asked for (PEP 562), so that the configuration and the
run-folder readers built on it stay importable by the torch-free review side.
"""

from protoecg.model.config import ModelConfig

__all__ = ["BlackBoxNet", "ModelConfig", "ProtoECGNet", "build_model"]


def __getattr__(name: str):
    if name in ("BlackBoxNet", "ProtoECGNet", "build_model"):
        from protoecg.model import protoecgnet
        return getattr(protoecgnet, name)
    raise AttributeError(f"module 'protoecg.model' has no attribute {name!r}")
