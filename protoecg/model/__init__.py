"""Stage 2: ProtoECGNet (three prototype branches + fusion) and its black-box twin."""

from protoecg.model.config import ModelConfig
from protoecg.model.protoecgnet import BlackBoxNet, ProtoECGNet, build_model

__all__ = ["BlackBoxNet", "ModelConfig", "ProtoECGNet", "build_model"]
