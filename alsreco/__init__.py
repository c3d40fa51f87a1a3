"""alsreco: Spark ALS product recommendations as a SageMaker bring-your-own container."""

__version__ = "0.1.0"
