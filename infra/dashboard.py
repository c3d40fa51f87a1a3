"""The storefront's impact dashboard: what each model version earns (api/metrics.py's EMF metrics).

* a table, by model version, from the Lambda's EMF log lines (CloudWatch Logs Insights): lists
  served, clicks, add-to-carts, purchases, click-through (clicks / lists) and conversion
  (purchases / clicks) - the figures that say whether a new model earns its keep;
* the same counts over time, one line per model version (SEARCH expressions: a new version appears
  by itself after retraining), and click-through and conversion over all versions;
* the health of the events path (events lost for training, answers without the visit) and the
  endpoint's 5xx, with the alarm that rolls a new model back.
"""
from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_logs as logs
from constructs import Construct

COUNTS = (("Impressions", "lists served"), ("Clicks", "clicks"), ("AddToCarts", "add-to-carts"),
          ("Purchases", "purchases"))
BY_VERSION_QUERY = (
    "filter ispresent(ModelVersion)\n"
    "| stats sum(Impressions) as lists, sum(Clicks) as clicks, sum(AddToCarts) as add_to_carts, "
    "sum(Purchases) as purchases, 100 * sum(Clicks) / sum(Impressions) as click_through_pct, "
    "100 * sum(Purchases) / sum(Clicks) as conversion_pct by ModelVersion\n"
    "| sort lists desc")


def _search(namespace: str, metric: str, period: Duration) -> str:
    return f"SEARCH('{{{namespace},ModelVersion}} MetricName=\"{metric}\"', 'Sum', {int(period.to_seconds())})"


class ImpactDashboard(Construct):
    """`.dashboard` (named alsreco-storefront)."""

    def __init__(self, scope: Construct, cid: str, *, namespace: str, log_group: logs.ILogGroup,
                 rollback_alarm: cloudwatch.IAlarm | None = None, endpoint_name: str) -> None:
        super().__init__(scope, cid)
        hour = Duration.hours(1)
        per_version = [cloudwatch.GraphWidget(
            title=f"{label.capitalize()} by model version", width=6, height=6, stacked=False,
            left=[cloudwatch.MathExpression(expression=_search(namespace, metric, hour), label="", period=hour)])
            for metric, label in COUNTS]
        total = {metric: cloudwatch.MathExpression(expression=f"SUM({_search(namespace, metric, hour)})",
                                                   label=label, period=hour) for metric, label in COUNTS}
        rates = cloudwatch.GraphWidget(
            title="Click-through and conversion (%), all model versions", width=12, height=6,
            left=[cloudwatch.MathExpression(expression="100 * clicks / lists", label="click-through %", period=hour,
                                            using_metrics={"clicks": total["Clicks"], "lists": total["Impressions"]}),
                  cloudwatch.MathExpression(expression="100 * purchases / clicks", label="conversion %", period=hour,
                                            using_metrics={"purchases": total["Purchases"],
                                                           "clicks": total["Clicks"]})])
        health_metrics = [cloudwatch.Metric(namespace=namespace, metric_name=name, statistic="Sum", period=hour,
                                            label=label)
                          for name, label in (("EventsNotDelivered", "events lost for training (Firehose)"),
                                              ("EventStoreUnavailable", "answers without the visit (DynamoDB)"))]
        health = cloudwatch.GraphWidget(title="Events path", width=12, height=6, left=health_metrics)
        endpoint = cloudwatch.GraphWidget(
            title="Endpoint 5xx (rolls a new model back in its baking period)", width=12, height=6,
            left=[cloudwatch.Metric(namespace="AWS/SageMaker", metric_name="Invocation5XXErrors", statistic="Sum",
                                    period=Duration.minutes(1),
                                    dimensions_map={"EndpointName": endpoint_name, "VariantName": "AllTraffic"})],
            left_annotations=[rollback_alarm.to_annotation()] if isinstance(rollback_alarm, cloudwatch.Alarm) else None)
        table = cloudwatch.LogQueryWidget(
            title="What each model version earns: lists, clicks, add-to-carts, purchases, click-through %, "
                  "conversion %", width=24, height=6, log_group_names=[log_group.log_group_name],
            query_string=BY_VERSION_QUERY, view=cloudwatch.LogQueryVisualizationType.TABLE)
        self.dashboard = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name="alsreco-storefront", default_interval=Duration.days(7),
            widgets=[[table], per_version, [rates, health], [endpoint]])
