"""Multi-model endpoints (SAGEMAKER_MULTI_MODEL=true): the host's registry of loaded models
(registry.py), loading and validating one (loading.py), each worker's attached models (cache.py) and
SageMaker's management API (api.py). docs/deploy.md says how to deploy one."""
