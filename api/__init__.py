"""Storefront REST API: the Lambda behind API Gateway that calls the SageMaker endpoint."""
