#!/usr/bin/env python3
"""Checks what template.yaml promises for production (make lint runs it, so CI does):
versions behind an alias, alarms, kept logs and data, who may trigger, deploy defaults.
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
                          ("FailedInvocationsAlarm", "ApproximateNumberOfMessagesVisible")]:
        props = res.get(alarm, {}).get("Properties", {})
        check(props.get("MetricName") == metric, f"{alarm} watches {metric}")
        check(len(props.get("AlarmActions", [])) == 1, f"{alarm} notifies the alarm topic")
        check(props.get("TreatMissingData") == "notBreaching", f"{alarm} is quiet without data")
    check(res.get("AlarmEmailSubscription", {}).get("Condition") == "EmailsAlarms", "the email subscription only with AlarmEmail")
    refused = res.get("RefusedAlarm", {}).get("Properties", {})
    check(refused.get("MetricName") == "Refused" and "AlexaProactive" in str(refused.get("Namespace")),
          "an alarm on notifications Alexa refused (the function's own metric)")

    # 3. Metrics without a client: the namespace the function writes, and a dashboard of them.
    env = fn["Environment"]["Variables"]
    check("AlexaProactive" in str(env.get("METRICS_NAMESPACE")), "the function's metrics namespace is set per stack")
    check(res.get("Dashboard", {}).get("Type") == "AWS::CloudWatch::Dashboard", "a CloudWatch dashboard")
    body = str(res.get("Dashboard", {}).get("Properties", {}).get("DashboardBody"))
    for metric in ["Accepted", "Refused", "Failed", "AlertsSeen", "AlertsAnnounced", "TokenRequests", "SecretReads"]:
        check(metric in body, f"the dashboard shows {metric}")
    sub = res.get("Dashboard", {}).get("Properties", {}).get("DashboardBody", {}).get("Fn::Sub", [""])
    try:
        json.loads(re.sub(r"\$\{[^}]+\}", "x", sub[0]))
    except (ValueError, IndexError, TypeError) as err:
        check(False, f"the dashboard body is JSON once substituted ({err})")

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

    # 7. One-command deploy: the defaults sam deploy reads.
    with open("samconfig.toml", "rb") as f:
        config = tomllib.load(f)
    deploy = config["default"]["deploy"]["parameters"]
    check(deploy.get("capabilities") == "CAPABILITY_IAM" and deploy.get("resolve_s3") is True,
          "samconfig.toml deploys with CAPABILITY_IAM and a managed S3 bucket")

    if problems:
        for problem in problems:
            print(f"template.yaml: expected: {problem}", file=sys.stderr)
        return 1
    print("template.yaml: alias, alarms, logs, retained data, triggers and deploy defaults as promised")
    return 0


if __name__ == "__main__":
    sys.exit(main())
