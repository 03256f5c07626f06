#!/usr/bin/env python3
"""Checks what template.yaml promises for production (make lint runs it, so CI does):
versions behind an alias, alarms, kept logs and data, who may trigger, the fan-out by place,
deploy defaults.
cfn-lint and `sam validate` check that the template is valid; this checks that it is safe.

Usage: check-template.py [template.yaml]   (needs cfn-lint, which `make lint` installs)
"""
import json
import re
import sys
import tomllib

from cfnlint.decode import cfn_yaml

problems = []


def check(condition, what):
    if not condition:
        problems.append(what)


def as_list(value):
    return value if isinstance(value, list) else [value]


def statements(fn):
    """The inline statements of the function's Policies, each with its actions as a list."""
    for policy in fn.get("Policies", []):
        for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
            yield as_list(statement.get("Action", [])), as_list(statement.get("Resource", []))


def main() -> int:
    path = sys.argv[1] if len(sys.argv) > 1 else "template.yaml"
    t = cfn_yaml.load(path)
    params, res, out = t["Parameters"], t["Resources"], t["Outputs"]
    fn = res["ProactiveFunction"]["Properties"]

    # 1. Versions and safe deploys: the alias everywhere, an optional gradual deployment.
    check(fn.get("AutoPublishAlias") == "live", "the function publishes versions behind the alias `live`")
    pref = fn.get("DeploymentPreference", {})
    check(pref.get("Type") == {"Ref": "DeploymentType"}, "DeploymentPreference.Type is the DeploymentType parameter")
    check(params["DeploymentType"]["Default"] == "AllAtOnce", "gradual deployment is off by default")
    check({"Ref": "ErrorsAlarm"} in pref.get("Alarms", []), "a gradual deployment rolls back on the errors alarm")
    check(out["FunctionArn"]["Value"] == {"Ref": "ProactiveFunction.Alias"}, "the FunctionArn output is the alias")
    check(res["PollSchedule"]["Properties"]["Targets"][0]["Arn"] == {"Ref": "ProactiveFunction.Alias"},
          "the poll schedule invokes the alias")
    check(res["PollSchedulePermission"]["Properties"]["FunctionName"] == {"Ref": "ProactiveFunction.Alias"},
          "the schedule's permission is on the alias")

    # 2. Alarms, to a topic of the owner's (or the stack's, with an email).
    for name in ["AlarmEmail", "AlarmTopicArn"]:
        check(name in params and params[name]["Default"] == "", f"parameter {name}, empty by default")
    for alarm, metric in [("ErrorsAlarm", "Errors"), ("ThrottlesAlarm", "Throttles"),
                          ("FailedInvocationsAlarm", "ApproximateNumberOfMessagesVisible"),
                          ("FanoutDeadLetterAlarm", "ApproximateNumberOfMessagesVisible"),
                          ("FanoutAgeAlarm", "ApproximateAgeOfOldestMessage")]:
        props = res.get(alarm, {}).get("Properties", {})
        check(props.get("MetricName") == metric, f"{alarm} watches {metric}")
        check(len(props.get("AlarmActions", [])) == 1, f"{alarm} notifies the alarm topic")
        check(props.get("TreatMissingData") == "notBreaching", f"{alarm} is quiet without data")
    check(res.get("AlarmEmailSubscription", {}).get("Condition") == "EmailsAlarms", "the email subscription only with AlarmEmail")
    forbidden = res.get("ForbiddenAlarm", {}).get("Properties", {})
    check(forbidden.get("MetricName") == "Forbidden" and "AlexaProactive" in str(forbidden.get("Namespace"))
          and forbidden.get("AlarmActions"),
          "an alarm when Alexa refuses most Unicasts with 403 (a configuration fault)")
    refused = res.get("RefusedAlarm", {}).get("Properties", {})
    check(refused.get("MetricName") == "Refused" and "AlexaProactive" in str(refused.get("Namespace")),
          "an alarm on notifications Alexa refused (the function's own metric)")

    # 3. Metrics without a client: the namespace the function writes, and a dashboard of them.
    env = fn["Environment"]["Variables"]
    check("AlexaProactive" in str(env.get("METRICS_NAMESPACE")), "the function's metrics namespace is set per stack")
    check(res.get("Dashboard", {}).get("Type") == "AWS::CloudWatch::Dashboard", "a CloudWatch dashboard")
    body = str(res.get("Dashboard", {}).get("Properties", {}).get("DashboardBody"))
    for metric in ["Accepted", "Refused", "Failed", "Forbidden", "AlertsSeen", "AlertsAnnounced", "TokenRequests", "SecretReads",
                   "Escalations", "Extensions", "FanoutAudience", "FanoutUnicasts", "FanoutBuckets", "FanoutCancelled",
                   "ApproximateAgeOfOldestMessage"]:
        check(f'"{metric}"' in body, f"the dashboard shows {metric}")
    sub = res.get("Dashboard", {}).get("Properties", {}).get("DashboardBody", {}).get("Fn::Sub", [""])
    try:
        json.loads(re.sub(r"\$\{[^}]+\}", "x", sub[0]))
    except (ValueError, IndexError, TypeError) as err:
        check(False, f"the dashboard body is JSON once substituted ({err})")
    names = sub[1] if len(sub) > 1 and isinstance(sub[1], dict) else {}
    for queue in ["FanoutQueue", "FanoutDeadLetterQueue"]:
        check(f"${{{queue}}}" in sub[0] and names.get(queue) == {"Fn::GetAtt": [queue, "QueueName"]},
              f"the dashboard shows the {queue}")

    # 4. Logs: an explicit group, kept LogRetentionDays (30 by default), JSON.
    group = res.get("FunctionLogGroup", {}).get("Properties", {})
    check(group.get("RetentionInDays") == {"Ref": "LogRetentionDays"}, "the log group keeps LogRetentionDays")
    check(params["LogRetentionDays"]["Default"] == 30, "logs are kept 30 days by default")
    check(fn.get("LoggingConfig", {}).get("LogGroup") == {"Ref": "FunctionLogGroup"}, "the function logs to that group")
    check(fn.get("LoggingConfig", {}).get("LogFormat") == "JSON", "the log is JSON")

    # 5. Data kept: the state table outlives the stack, with point-in-time recovery and
    # encryption; the topic is encrypted.
    table = res["StateTable"]
    check(table.get("DeletionPolicy") == "Retain" and table.get("UpdateReplacePolicy") == "Retain",
          "the state table is retained on delete and replace")
    check(table["Properties"].get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled") is True,
          "the state table has point-in-time recovery")
    check(table["Properties"].get("SSESpecification", {}).get("SSEEnabled") is True, "the state table is encrypted with KMS")
    check("KmsMasterKeyId" in res["AlertsTopic"]["Properties"], "the SNS topic is encrypted")

    # 6. Who may trigger: the stack's own bus (and optionally one source), the account only on
    # SNS, a concurrency cap.
    rule = fn["Events"]["CustomEvents"]["Properties"]
    check(rule.get("EventBusName") == {"Ref": "EventBus"}, "the EventBridge rule listens on the stack's own bus")
    check("source" in rule.get("Pattern", {}), "the rule can require the EventSource parameter")
    statement = res["AlertsTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    check(statement["Action"] == "sns:Publish" and "AccountId" in str(statement["Principal"]),
          "only this account may publish to the topic")
    check("ReservedConcurrency" in params and "ReservedConcurrentExecutions" in fn,
          "reserved concurrency is a parameter")
    check(res["EventBus"]["Type"] == "AWS::Events::EventBus" and "EventBusName" in out, "the bus is an output")

    # 7. Targeting by place: alerts matched to users by area through the table's index, the
    # Unicasts sent through an encrypted queue the function consumes (through the alias, like
    # every trigger), with a dead-letter queue, alarms and least privilege.
    for name, default, allowed in [("WeatherAudience", "located", ["located", "everyone"])]:
        check(params.get(name, {}).get("Default") == default and params[name].get("AllowedValues") == allowed,
              f"parameter {name}, one of {allowed}, {default} by default")
    for name, default, low, high in [("FanoutSendRate", 50, 1, 1000), ("FanoutMaxConcurrency", 10, 2, 1000),
                                     ("FanoutBatchSize", 5, 1, 10), ("FanoutAgeAlarmSeconds", 300, None, None)]:
        p = params.get(name, {})
        check(p.get("Type") == "Number" and p.get("Default") == default
              and (low is None or (p.get("MinValue") == low and p.get("MaxValue") == high)),
              f"parameter {name}, a Number, {default} by default" + (f", {low} to {high}" if low else ""))
    for var, ref in [("WEATHER_AUDIENCE", "WeatherAudience"), ("FANOUT_QUEUE_URL", "FanoutQueue"),
                     ("FANOUT_SEND_RATE", "FanoutSendRate")]:
        check(env.get(var) == {"Ref": ref}, f"the function's {var} is {ref}")
    queue = res.get("FanoutQueue", {}).get("Properties", {})
    dlq = res.get("FanoutDeadLetterQueue", {}).get("Properties", {})
    check(res.get("FanoutQueue", {}).get("Type") == "AWS::SQS::Queue" and queue.get("SqsManagedSseEnabled") is True,
          "the fan-out queue is encrypted")
    check(res.get("FanoutDeadLetterQueue", {}).get("Type") == "AWS::SQS::Queue" and dlq.get("SqsManagedSseEnabled") is True,
          "the fan-out dead-letter queue is encrypted")
    redrive = queue.get("RedrivePolicy", {})
    check(redrive.get("deadLetterTargetArn") == {"Fn::GetAtt": ["FanoutDeadLetterQueue", "Arn"]}
          and redrive.get("maxReceiveCount") == 5, "the fan-out queue moves a message received 5 times to its dead-letter queue")
    check(queue.get("MessageRetentionPeriod") == 345600 and dlq.get("MessageRetentionPeriod") == 1209600,
          "fan-out messages are kept 4 days, dead letters 14")
    timeout = fn.get("Timeout", t.get("Globals", {}).get("Function", {}).get("Timeout", 3))
    check(isinstance(queue.get("VisibilityTimeout"), int) and queue["VisibilityTimeout"] >= 6 * timeout,
          f"the fan-out queue's visibility timeout is at least 6 x the function's timeout ({6 * timeout} s)")
    fanout = fn.get("Events", {}).get("Fanout", {})
    event = fanout.get("Properties", {})
    check(fanout.get("Type") == "SQS" and event.get("Queue") == {"Fn::GetAtt": ["FanoutQueue", "Arn"]},
          "the function consumes the fan-out queue (event Fanout, mapped to the alias by SAM)")
    check("ReportBatchItemFailures" in event.get("FunctionResponseTypes", []),
          "the Fanout event retries only the failed messages of a batch (ReportBatchItemFailures)")
    check(event.get("ScalingConfig", {}).get("MaximumConcurrency") == {"Ref": "FanoutMaxConcurrency"},
          "the Fanout event's MaximumConcurrency is the FanoutMaxConcurrency parameter")
    check(event.get("BatchSize") == {"Ref": "FanoutBatchSize"} and event.get("MaximumBatchingWindowInSeconds") == 0,
          "the Fanout event's BatchSize is the FanoutBatchSize parameter, without a batching window")
    attributes = {a.get("AttributeName"): a.get("AttributeType") for a in table["Properties"].get("AttributeDefinitions", [])}
    check(attributes.get("areaKey") == "S" and attributes.get("areaUser") == "S",
          "the state table defines areaKey and areaUser as strings")
    indexes = {i.get("IndexName"): i for i in table["Properties"].get("GlobalSecondaryIndexes", [])}
    area = indexes.get("area", {})
    check([(k.get("AttributeName"), k.get("KeyType")) for k in area.get("KeySchema", [])]
          == [("areaKey", "HASH"), ("areaUser", "RANGE")], "the state table's index `area` is keyed areaKey, areaUser")
    check(area.get("Projection", {}).get("ProjectionType") == "KEYS_ONLY" and "ProvisionedThroughput" not in area,
          "the index `area` projects keys only, on demand")
    check(all(isinstance(p, dict) and "Statement" in p for p in fn.get("Policies", [])),
          "the role's own policies are inline statements (no managed policy, no SAM policy template)")
    granted = list(statements(fn))
    check(not any(a.endswith("*") for actions, _ in granted for a in actions), "the role's actions are named, none with *")
    index_arn = {"Fn::Sub": "${StateTable.Arn}/index/area"}
    table_arn = {"Fn::GetAtt": ["StateTable", "Arn"]}
    queries = [resources for actions, resources in granted if "dynamodb:Query" in actions]
    check(queries and all(resources == [index_arn] for resources in queries), "dynamodb:Query only on the index `area`")
    for action in ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:PutItem",
                   "dynamodb:BatchGetItem"]:
        on = [resources for actions, resources in granted if action in actions]
        check(on and all(resources == [table_arn] for resources in on), f"{action} only on the state table")
    sends = [resources for actions, resources in granted if "sqs:SendMessage" in actions]
    check(sends and all(resources == [{"Fn::GetAtt": ["FanoutQueue", "Arn"]}] for resources in sends),
          "sqs:SendMessage only on the fan-out queue")
    action = res.get("ErrorsAlarm", {}).get("Properties", {}).get("AlarmActions")
    dead = res.get("FanoutDeadLetterAlarm", {}).get("Properties", {})
    check(dead.get("Dimensions") == [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["FanoutDeadLetterQueue", "QueueName"]}}]
          and dead.get("Threshold") == 1 and dead.get("ComparisonOperator") == "GreaterThanOrEqualToThreshold"
          and dead.get("AlarmActions") == action, "an alarm on any message in the fan-out dead-letter queue, to the alarm topic")
    age = res.get("FanoutAgeAlarm", {}).get("Properties", {})
    check(age.get("Dimensions") == [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["FanoutQueue", "QueueName"]}}]
          and age.get("Threshold") == {"Ref": "FanoutAgeAlarmSeconds"}
          and age.get("ComparisonOperator") == "GreaterThanOrEqualToThreshold"
          and age.get("AlarmActions") == action, "an alarm on the fan-out queue's oldest message, to the alarm topic")
    for output, ref in [("FanoutQueueUrl", "FanoutQueue"), ("FanoutDeadLetterQueueUrl", "FanoutDeadLetterQueue")]:
        check(out.get(output, {}).get("Value") == {"Ref": ref}, f"the output {output} is the {ref} URL")

    # 8. One-command deploy: the defaults sam deploy reads.
    with open("samconfig.toml", "rb") as f:
        config = tomllib.load(f)
    deploy = config["default"]["deploy"]["parameters"]
    check(deploy.get("capabilities") == "CAPABILITY_IAM" and deploy.get("resolve_s3") is True,
          "samconfig.toml deploys with CAPABILITY_IAM and a managed S3 bucket")

    if problems:
        for problem in problems:
            print(f"template.yaml: expected: {problem}", file=sys.stderr)
        return 1
    print("template.yaml: alias, alarms, logs, retained data, triggers, fan-out and deploy defaults as promised")
    return 0


if __name__ == "__main__":
    sys.exit(main())
