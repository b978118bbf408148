"""judge-service: did the fine-tune beat the base model?"""

__version__ = "0.1.0"
