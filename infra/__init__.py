"""The storefront stack as code (AWS CDK, Python): `python -m infra.app` synthesizes it offline."""
