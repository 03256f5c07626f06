#!/usr/bin/env python3
"""Checks what template.yaml promises for production (make lint runs it, so CI does):
versions behind an alias and their rollback, alarms that arrive and mean something, kept logs
and data, least privilege, who may trigger, the fan-out by place in a function of its own,
deploy defaults.
cfn-lint and `sam validate` check that the template is valid; this checks that it is safe.

Every run also checks the checks: it takes copies of the template, each lacking one promise
(the MUTATIONS below), and fails unless every copy is refused for the promise it lacks.

Usage: check-template.py [template.yaml]   (needs cfn-lint, which `make lint` installs)
"""
import copy
import json
import re
import sys
import tomllib

from cfnlint.decode import cfn_yaml

TOPIC = {"Fn::If": ["HasAlarmTopicArn", {"Ref": "AlarmTopicArn"}, {"Ref": "AlarmTopic"}]}
TABLE_ARN = {"Fn::If": ["CreatesStateTable", {"Fn::GetAtt": ["StateTable", "Arn"]},
                        {"Fn::Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${ExistingStateTable}"}]}
INDEX_ARN = {"Fn::If": ["CreatesStateTable", {"Fn::Sub": "${StateTable.Arn}/index/area"},
                        {"Fn::Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${ExistingStateTable}/index/area"}]}
FANOUT_QUEUE_ARN = {"Fn::GetAtt": ["FanoutQueue", "Arn"]}
FAILED_QUEUE_ARN = {"Fn::GetAtt": ["FailedInvocations", "Arn"]}
SKILL, FANOUT = "ProactiveFunction", "FanoutFunction"


def as_list(value):
    return value if isinstance(value, list) else [value]


def props(res, name):
    return res.get(name, {}).get("Properties", {}) or {}


def function(t, name):
    """A function's properties as SAM sees them: Globals.Function, then its own."""
    merged = copy.deepcopy(t.get("Globals", {}).get("Function", {}))
    for key, value in props(t["Resources"], name).items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and key == "Environment":
            merged[key] = {"Variables": {**merged[key].get("Variables", {}), **value.get("Variables", {})}}
        else:
            merged[key] = value
    return merged


def statements(document):
    """(statement, condition) pairs; a statement inside Fn::If [cond, s, NoValue] has cond."""
    for statement in as_list((document or {}).get("Statement", [])):
        if isinstance(statement, dict) and "Fn::If" in statement:
            cond, yes, _ = statement["Fn::If"]
            yield yes, cond
        elif isinstance(statement, dict):
            yield statement, None


def role_of(t, fn):
    role = function(t, fn).get("Role")
    if isinstance(role, dict) and "Fn::GetAtt" in role and role["Fn::GetAtt"][1] == "Arn":
        name = role["Fn::GetAtt"][0]
        if t["Resources"].get(name, {}).get("Type") == "AWS::IAM::Role":
            return name
    return None


def grants(t, role):
    """Every statement the role carries: (actions, resources, condition, where)."""
    res = t["Resources"]
    role_props = props(res, role)
    for policy in role_props.get("Policies", []):
        for s, cond in statements(policy.get("PolicyDocument")):
            yield as_list(s.get("Action", [])), as_list(s.get("Resource", [])), cond, "inline"
    for arn in role_props.get("ManagedPolicyArns", []):
        if isinstance(arn, dict) and res.get(arn.get("Ref"), {}).get("Type") == "AWS::IAM::ManagedPolicy":
            for s, cond in statements(props(res, arn["Ref"]).get("PolicyDocument")):
                yield as_list(s.get("Action", [])), as_list(s.get("Resource", [])), cond, "managed"


def references(node, name, guarded=False, path=""):
    """Where `name` is referenced outside the true branch of Fn::If [CreatesStateTable, ...]."""
    if isinstance(node, dict):
        if "Fn::If" in node and isinstance(node["Fn::If"], list) and len(node["Fn::If"]) == 3:
            cond, yes, no = node["Fn::If"]
            yield from references(yes, name, guarded or cond == "CreatesStateTable", path + "/If")
            yield from references(no, name, guarded, path + "/Else")
            return
        if not guarded:
            if node.get("Ref") == name or (node.get("Fn::GetAtt") or [None])[0] == name:
                yield path
            sub = node.get("Fn::Sub")
            text = sub if isinstance(sub, str) else sub[0] if isinstance(sub, list) and sub else ""
            if isinstance(text, str) and re.search(r"\$\{" + name + r"[.}]", text):
                yield path
        for key, value in node.items():
            yield from references(value, name, guarded, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from references(value, name, guarded, f"{path}/{i}")


def key_of(t, topic):
    """The template's KMS key a topic is encrypted with (None for an alias or an outside key)."""
    key = props(t["Resources"], topic).get("KmsMasterKeyId")
    name = None
    if isinstance(key, dict):
        name = key.get("Ref") or (key.get("Fn::GetAtt") or [None])[0]
    return name if t["Resources"].get(name, {}).get("Type") == "AWS::KMS::Key" else None


def service_statement(document, service, actions):
    """The Allow statements for `service` granting all of `actions`."""
    found = []
    for s, _ in statements(document):
        principal = s.get("Principal", {})
        services = as_list(principal.get("Service", [])) if isinstance(principal, dict) else []
        if s.get("Effect") == "Allow" and service in services and set(actions) <= set(as_list(s.get("Action", []))):
            found.append(s)
    return found


def scoped_to_account(statement):
    """aws:SourceAccount is this account, or aws:SourceArn names it."""
    for test, pairs in (statement.get("Condition") or {}).items():
        for key, value in (pairs or {}).items():
            if key.lower() == "aws:sourceaccount" and value == {"Ref": "AWS::AccountId"}:
                return True
            if key.lower() == "aws:sourcearn" and "${AWS::AccountId}" in json.dumps(value):
                return True
    return False


def problems_of(t, config):
    problems = []

    def check(condition, what):
        if not condition:
            problems.append(what)

    params, res, out = t.get("Parameters", {}), t.get("Resources", {}), t.get("Outputs", {})
    fn, fanout = function(t, SKILL), function(t, FANOUT)
    alarms = {name: r.get("Properties", {}) for name, r in res.items() if r.get("Type") == "AWS::CloudWatch::Alarm"}

    # 1. Versions and safe deploys: the alias everywhere, an optional gradual deployment that
    # rolls back on errors of the new version only.
    for name, f, alarm in [(SKILL, fn, "NewVersionErrorsAlarm"), (FANOUT, fanout, "FanoutNewVersionErrorsAlarm")]:
        check(f.get("AutoPublishAlias") == "live", f"{name} publishes versions behind the alias `live`")
        pref = f.get("DeploymentPreference", {})
        check(pref.get("Type") == {"Ref": "DeploymentType"}, f"{name}'s DeploymentPreference.Type is the DeploymentType parameter")
        check(pref.get("Alarms") == [{"Ref": alarm}], f"a gradual deployment of {name} rolls back on {alarm} only")
        a = alarms.get(alarm, {})
        check(a.get("Namespace") == "AWS/Lambda" and a.get("MetricName") == "Errors"
              and a.get("Dimensions") == [{"Name": "FunctionName", "Value": {"Ref": name}},
                                          {"Name": "Resource", "Value": {"Fn::Sub": f"${{{name}}}:live"}},
                                          {"Name": "ExecutedVersion", "Value": {"Fn::GetAtt": [name, "Version.Version"]}}],
              f"{alarm} watches the errors of {name}'s new version (ExecutedVersion), not the version it replaces")
        check(a.get("Threshold", 0) >= 2 and a.get("EvaluationPeriods", 0) >= 2 and a.get("DatapointsToAlarm", 0) >= 2
              and a.get("ComparisonOperator") == "GreaterThanOrEqualToThreshold",
              f"{alarm} needs 2 or more errors a minute in 2 minutes or more (one retried failure is by design)")
    check(params.get("DeploymentType", {}).get("Default") == "AllAtOnce", "gradual deployment is off by default")
    check(out.get("FunctionArn", {}).get("Value") == {"Ref": "ProactiveFunction.Alias"}, "the FunctionArn output is the alias")
    check(out.get("FanoutFunctionArn", {}).get("Value") == {"Ref": "FanoutFunction.Alias"},
          "the FanoutFunctionArn output is the fan-out function's alias")
    check(props(res, "PollSchedule").get("Targets", [{}])[0].get("Arn") == {"Ref": "ProactiveFunction.Alias"},
          "the poll schedule invokes the alias")
    check(props(res, "PollSchedulePermission").get("FunctionName") == {"Ref": "ProactiveFunction.Alias"},
          "the schedule's permission is on the alias")

    # 2. Alarms that arrive: to a topic of the owner's, or the stack's, encrypted with a key
    # whose policy lets CloudWatch (and EventBridge) use it; an AWS managed key cannot.
    for name in ["AlarmEmail", "AlarmTopicArn"]:
        check(name in params and params[name].get("Default") == "", f"parameter {name}, empty by default")
    check(res.get("AlarmEmailSubscription", {}).get("Condition") == "EmailsAlarms", "the email subscription only with AlarmEmail")
    for name, a in alarms.items():
        check(a.get("AlarmActions") == [TOPIC], f"{name} notifies the alarm topic")
    for topic in ["AlarmTopic", "AlertsTopic"]:
        check(props(res, topic).get("KmsMasterKeyId") != "alias/aws/sns" and key_of(t, topic) is not None,
              f"{topic} is encrypted with the stack's customer managed key, not alias/aws/sns")
    key_name = key_of(t, "AlarmTopic")
    key = props(res, key_name) if key_name else {}
    check(key_name is not None and key_of(t, "AlertsTopic") == key_name, "both topics use the same customer managed key")
    check(key.get("EnableKeyRotation") is True, "the topics' key is rotated")
    policy = key.get("KeyPolicy", {})
    check(any(s.get("Effect") == "Allow" and s.get("Action") in ("kms:*", ["kms:*"])
              and "${AWS::AccountId}:root" in json.dumps(s.get("Principal")) for s, _ in statements(policy)),
          "the key policy lets the account administer the key")
    cloudwatch = service_statement(policy, "cloudwatch.amazonaws.com", ["kms:Decrypt", "kms:GenerateDataKey*"])
    check(cloudwatch, "the key policy grants cloudwatch.amazonaws.com kms:Decrypt and kms:GenerateDataKey*")
    check(cloudwatch and all(scoped_to_account(s) for s in cloudwatch),
          "the key's grant to CloudWatch is scoped to this account (aws:SourceAccount)")
    check(service_statement(policy, "events.amazonaws.com", ["kms:Decrypt", "kms:GenerateDataKey*"]),
          "the key policy grants events.amazonaws.com kms:Decrypt and kms:GenerateDataKey* (EventBridge to the alerts topic)")
    topic_policies = {}
    for r in res.values():
        if r.get("Type") == "AWS::SNS::TopicPolicy":
            for topic in r.get("Properties", {}).get("Topics", []):
                topic_policies.setdefault(json.dumps(topic), []).append(r["Properties"].get("PolicyDocument"))
    for topic, service in [("AlarmTopic", "cloudwatch.amazonaws.com"), ("AlertsTopic", "events.amazonaws.com")]:
        found = [s for doc in topic_policies.get(json.dumps({"Ref": topic}), [])
                 for s in service_statement(doc, service, ["sns:Publish"])]
        check(found and all(scoped_to_account(s) for s in found),
              f"{topic}'s policy lets {service} publish, for this account only")
    forbidden = alarms.get("ForbiddenAlarm", {})
    check(forbidden.get("MetricName") == "Forbidden" and "AlexaProactive" in str(forbidden.get("Namespace")),
          "an alarm when Alexa refuses most Unicasts with 403 (a configuration fault)")

    # 3. Alarms that mean something: what a person must act on.
    def own_metric(alarm, metric):
        a = alarms.get(alarm, {})
        return a.get("MetricName") == metric and a.get("Namespace") == {"Fn::Sub": "AlexaProactive/${AWS::StackName}"}

    check(own_metric("RefusedAlarm", "Refused"), "an alarm on notifications Alexa refused (for good)")
    failed = alarms.get("NotificationsFailedAlarm", {})
    check(own_metric("NotificationsFailedAlarm", "Failed") and failed.get("EvaluationPeriods", 0) * failed.get("Period", 0) >= 600,
          "an alarm on notifications failing for 10 minutes or more (Failed; one failure is retried)")
    fanout_failed = alarms.get("FanoutFailedAlarm", {})
    check(own_metric("FanoutFailedAlarm", "FanoutFailed") and fanout_failed.get("Period", 3600) * fanout_failed.get("EvaluationPeriods", 99) <= 600,
          "an alarm on fan-out batch item failures within minutes (FanoutFailed), before the dead-letter queue")
    for alarm, queue in [("FailedInvocationsAlarm", "FailedInvocations"), ("FanoutDeadLetterAlarm", "FanoutDeadLetterQueue")]:
        a = alarms.get(alarm, {})
        check(a.get("MetricName") == "ApproximateNumberOfMessagesVisible"
              and a.get("Dimensions") == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}]
              and a.get("Threshold") == 1 and a.get("ComparisonOperator") == "GreaterThanOrEqualToThreshold",
              f"{alarm}: an alarm on any message in {queue}")
    age = alarms.get("FanoutAgeAlarm", {})
    check(age.get("MetricName") == "ApproximateAgeOfOldestMessage"
          and age.get("Dimensions") == [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["FanoutQueue", "QueueName"]}}]
          and age.get("Threshold") == {"Ref": "FanoutAgeAlarmSeconds"}, "an alarm on the fan-out queue's oldest message")
    polls = res.get("PollsStoppedAlarm", {})
    p = polls.get("Properties", {})
    check(polls.get("Condition") == "PollsWeather" and own_metric("PollsStoppedAlarm", "Polls")
          and p.get("TreatMissingData") == "breaching" and p.get("ComparisonOperator") == "LessThanThreshold"
          and p.get("EvaluationPeriods") == {"Ref": "PollAlarmMinutes"},
          "with a feed to poll, an alarm when the per-poll heartbeat Polls is missing for PollAlarmMinutes (missing = breaching)")
    check(params.get("PollAlarmMinutes", {}).get("Type") == "Number", "parameter PollAlarmMinutes, a Number")
    duration = alarms.get("DurationAlarm", {})
    timeout = fn.get("Timeout", 3)
    check(duration.get("MetricName") == "Duration" and duration.get("Dimensions") == [{"Name": "FunctionName", "Value": {"Ref": SKILL}}]
          and (duration.get("Statistic") == "Maximum" or str(duration.get("ExtendedStatistic", "")).startswith("p9"))
          and isinstance(duration.get("Threshold"), (int, float)) and 0.8 * timeout * 1000 <= duration["Threshold"] <= 0.95 * timeout * 1000,
          f"an alarm on the skill function's duration at 80 to 95 % of its timeout ({timeout} s)")
    for alarm, metric, fname in [("ThrottlesAlarm", "Throttles", SKILL), ("FanoutErrorsAlarm", "Errors", FANOUT)]:
        a = alarms.get(alarm, {})
        check(a.get("MetricName") == metric and a.get("Dimensions") == [{"Name": "FunctionName", "Value": {"Ref": fname}}],
              f"{alarm} watches {fname}'s {metric}")
    check(all(a.get("TreatMissingData") == "notBreaching" for n, a in alarms.items() if n != "PollsStoppedAlarm"),
          "every alarm but the heartbeat's is quiet without data")

    # 4. Metrics without a client: the namespace the functions write, and a dashboard of them.
    env = fn.get("Environment", {}).get("Variables", {})
    check("AlexaProactive" in str(env.get("METRICS_NAMESPACE")), "the functions' metrics namespace is set per stack")
    check(res.get("Dashboard", {}).get("Type") == "AWS::CloudWatch::Dashboard", "a CloudWatch dashboard")
    body = str(props(res, "Dashboard").get("DashboardBody"))
    for metric in ["Accepted", "Refused", "Failed", "Forbidden", "Polls", "AlertsSeen", "AlertsAnnounced", "TokenRequests",
                   "SecretReads", "Escalations", "Extensions", "FanoutAudience", "FanoutUnicasts", "FanoutBuckets",
                   "FanoutCancelled", "FanoutFailed", "ApproximateAgeOfOldestMessage"]:
        check(f'"{metric}"' in body, f"the dashboard shows {metric}")
    sub = (props(res, "Dashboard").get("DashboardBody") or {}).get("Fn::Sub", [""])
    try:
        json.loads(re.sub(r"\$\{[^}]+\}", "x", sub[0]))
    except (ValueError, IndexError, TypeError) as err:
        check(False, f"the dashboard body is JSON once substituted ({err})")
    names = sub[1] if len(sub) > 1 and isinstance(sub[1], dict) else {}
    for queue in ["FanoutQueue", "FanoutDeadLetterQueue"]:
        check(f"${{{queue}}}" in sub[0] and names.get(queue) == {"Fn::GetAtt": [queue, "QueueName"]},
              f"the dashboard shows the {queue}")
    for name in [SKILL, FANOUT]:
        check(f"${{{name}}}" in sub[0], f"the dashboard shows {name}")

    # 5. Logs: an explicit group, kept LogRetentionDays (30 by default), JSON, for both.
    group = props(res, "FunctionLogGroup")
    check(group.get("RetentionInDays") == {"Ref": "LogRetentionDays"}, "the log group keeps LogRetentionDays")
    check(params.get("LogRetentionDays", {}).get("Default") == 30, "logs are kept 30 days by default")
    for name, f in [(SKILL, fn), (FANOUT, fanout)]:
        check(f.get("LoggingConfig", {}).get("LogGroup") == {"Ref": "FunctionLogGroup"}, f"{name} logs to that group")
        check(f.get("LoggingConfig", {}).get("LogFormat") == "JSON", f"{name}'s log is JSON")

    # 6. Data kept: the state table outlives the stack and refuses deletion, with point-in-time
    # recovery and encryption; or an existing table is used instead, every reference switching.
    table = res.get("StateTable", {})
    tp = table.get("Properties", {})
    check(table.get("DeletionPolicy") == "Retain" and table.get("UpdateReplacePolicy") == "Retain",
          "the state table is retained on delete and replace")
    check(tp.get("DeletionProtectionEnabled") is True, "the state table has deletion protection")
    check(tp.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled") is True,
          "the state table has point-in-time recovery")
    check(tp.get("SSESpecification", {}).get("SSEEnabled") is True, "the state table is encrypted with KMS")
    check(params.get("ExistingStateTable", {}).get("Default") == "", "parameter ExistingStateTable, empty by default")
    check(t.get("Conditions", {}).get("CreatesStateTable") == {"Fn::Equals": [{"Ref": "ExistingStateTable"}, ""]}
          and table.get("Condition") == "CreatesStateTable", "the state table is created only without ExistingStateTable")
    stray = [path for name, r in res.items() if name != "StateTable" for path in references(r, "StateTable", path=name)]
    stray += [path for name, o in out.items() for path in references(o, "StateTable", path="Outputs/" + name)]
    stray += [path for path in references(t.get("Globals", {}), "StateTable", path="Globals")]
    check(not stray, f"every reference to StateTable switches to ExistingStateTable without it (unguarded: {stray})")
    either = {"Fn::If": ["CreatesStateTable", {"Ref": "StateTable"}, {"Ref": "ExistingStateTable"}]}
    check(env.get("STATE_TABLE") == either and out.get("StateTableName", {}).get("Value") == either,
          "STATE_TABLE and the StateTableName output name the created or the existing table")

    # 7. Least privilege: roles of the template's own, nothing account-wide.
    roles = {}
    for name in [SKILL, FANOUT]:
        role = role_of(t, name)
        check(role is not None, f"{name} has a role declared in the template (not SAM's, which would attach AWSLambdaSQSQueueExecutionRole)")
        check("Policies" not in props(res, name), f"{name} has no SAM Policies (its role says everything)")
        if role:
            roles[name] = role
            arns = props(res, role).get("ManagedPolicyArns", [])
            check(all(isinstance(a, dict) and res.get(a.get("Ref"), {}).get("Type") == "AWS::IAM::ManagedPolicy" for a in arns),
                  f"{role} has no AWS managed policy, only the template's own")
            principal = json.dumps(props(res, role).get("AssumeRolePolicyDocument"))
            check('"lambda.amazonaws.com"' in principal, f"{role} is assumed by Lambda")
    for name, role in roles.items():
        granted = list(grants(t, role))
        on = lambda action: [r for actions, resources, _, _ in granted if action in actions for r in resources]
        check(granted, f"{role} grants something")
        check(not any(a.endswith("*") for actions, _, _, _ in granted for a in actions), f"{role}'s actions are named, none with *")
        for actions, resources, cond, _ in granted:
            if "*" in resources:
                check(cond == "Traces" and all(a.startswith("xray:") for a in actions),
                      f"{role}: Resource * only for the X-Ray writes, only with Tracing Active")
        check(on("xray:PutTraceSegments") and all(cond == "Traces" for actions, _, cond, _ in granted
                                                   if "xray:PutTraceSegments" in actions),
              f"{role} may write X-Ray traces only when Tracing is Active")
        logs = on("logs:PutLogEvents") + on("logs:CreateLogStream")
        check(logs and all(r == {"Fn::GetAtt": ["FunctionLogGroup", "Arn"]} for r in logs) and not on("logs:CreateLogGroup"),
              f"{role} writes only to the functions' log group")
        check(on("secretsmanager:GetSecretValue")
              and all("${CredentialsSecretName}-??????" in json.dumps(r) for r in on("secretsmanager:GetSecretValue")),
              f"{role} reads only the credentials secret")
        for action in ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:PutItem", "dynamodb:BatchGetItem"]:
            check(on(action) and all(r == TABLE_ARN for r in on(action)), f"{role}: {action} only on the state table")
        check(on("dynamodb:Query") and all(r == INDEX_ARN for r in on("dynamodb:Query")), f"{role}: dynamodb:Query only on the index `area`")
        sends = on("sqs:SendMessage")
        allowed = [FANOUT_QUEUE_ARN, FAILED_QUEUE_ARN] if name == SKILL else [FANOUT_QUEUE_ARN]
        check(FANOUT_QUEUE_ARN in sends and all(r in allowed for r in sends),
              f"{role}: sqs:SendMessage only on " + " and ".join(a["Fn::GetAtt"][0] for a in allowed))
        consume = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
        if name == SKILL:
            check(FAILED_QUEUE_ARN in sends, f"{role} may send to the failed-invocations queue (the on-failure destination)")
            check(not any(on(a) for a in consume), f"{role} does not consume any queue")
        else:
            inline = [r for actions, resources, _, where in granted if where == "inline"
                      and set(consume) <= set(actions) for r in resources]
            check(inline == [FANOUT_QUEUE_ARN] and all(r == FANOUT_QUEUE_ARN for a in consume for r in on(a)),
                  f"{role} consumes the fan-out queue only, in its own inline policy (the event source mapping checks it)")

    # 8. Tracing: a parameter, off by default, applied to both functions.
    tracing = params.get("Tracing", {})
    check({"Active", "PassThrough"} <= set(tracing.get("AllowedValues", [])) and tracing.get("Default") != "Active",
          "parameter Tracing (Active or PassThrough), not Active by default")
    check(t.get("Conditions", {}).get("Traces") == {"Fn::Equals": [{"Ref": "Tracing"}, "Active"]}, "condition Traces")
    for name, f in [(SKILL, fn), (FANOUT, fanout)]:
        check(f.get("Tracing") == {"Ref": "Tracing"}, f"{name}'s tracing is the Tracing parameter")

    # 9. Who may trigger: the stack's own bus (and optionally one source), the account only on
    # SNS, a concurrency reservation for Alexa requests.
    rule = fn.get("Events", {}).get("CustomEvents", {}).get("Properties", {})
    check(rule.get("EventBusName") == {"Ref": "EventBus"}, "the EventBridge rule listens on the stack's own bus")
    check("source" in rule.get("Pattern", {}), "the rule can require the EventSource parameter")
    first = (props(res, "AlertsTopicPolicy").get("PolicyDocument", {}).get("Statement") or [{}])[0]
    check(first.get("Action") == "sns:Publish" and "AccountId" in str(first.get("Principal")),
          "only this account may publish to the topic")
    check("ReservedConcurrency" in params
          and fn.get("ReservedConcurrentExecutions") == {"Fn::If": ["ReservesConcurrency", {"Ref": "ReservedConcurrency"}, {"Ref": "AWS::NoValue"}]},
          "the skill function's reserved concurrency is the ReservedConcurrency parameter")
    check(res.get("EventBus", {}).get("Type") == "AWS::Events::EventBus" and "EventBusName" in out, "the bus is an output")

    # 10. Alexa requests never wait behind the fan-out: the SQS consumer is a function of its
    # own, from the same build (one binary, dispatching by the event's shape), with the same
    # environment, its own timeout (the queue's visibility sized to it) and concurrency.
    check(res.get(FANOUT, {}).get("Type") == "AWS::Serverless::Function", "a fan-out function of its own")
    check(res.get(FANOUT, {}).get("Metadata") == res.get(SKILL, {}).get("Metadata")
          and (res.get(SKILL, {}).get("Metadata") or {}).get("BuildProperties", {}).get("Binary") == "alexa-proactive",
          "both functions are built the same way, from the one binary alexa-proactive")
    for key in ["CodeUri", "Handler", "Runtime", "Architectures", "MemorySize", "Environment"]:
        check(key in fn and fn.get(key) == fanout.get(key), f"both functions have the same {key}")
    skill_events = {n: e.get("Type") for n, e in fn.get("Events", {}).items()}
    fanout_events = {n: e.get("Type") for n, e in fanout.get("Events", {}).items()}
    check(skill_events == {"Alexa": "AlexaSkill", "Notifications": "SNS", "CustomEvents": "EventBridgeRule"},
          "the skill function keeps Alexa, SNS and EventBridge, and consumes no queue")
    check(fanout_events == {"Fanout": "SQS"}, "the fan-out function has the Fanout queue event only")
    check(isinstance(props(res, SKILL).get("Timeout"), int) and isinstance(props(res, FANOUT).get("Timeout"), int),
          "each function has a Timeout of its own")
    check(props(res, FANOUT).get("ReservedConcurrentExecutions")
          == {"Fn::If": ["ReservesFanoutConcurrency", {"Ref": "FanoutReservedConcurrency"}, {"Ref": "AWS::NoValue"}]}
          and params.get("FanoutReservedConcurrency", {}).get("Type") == "Number",
          "the fan-out function's reserved concurrency is the FanoutReservedConcurrency parameter")
    check("EventInvokeConfig" in fn, "the skill function's failed async invocations go to a destination")

    # 11. Targeting by place: alerts matched to users by area through the table's index, the
    # Unicasts sent through an encrypted queue the fan-out function consumes (through its
    # alias), with a dead-letter queue.
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
        check(env.get(var) == {"Ref": ref}, f"the functions' {var} is {ref}")
    queue, dlq = props(res, "FanoutQueue"), props(res, "FanoutDeadLetterQueue")
    check(res.get("FanoutQueue", {}).get("Type") == "AWS::SQS::Queue" and queue.get("SqsManagedSseEnabled") is True,
          "the fan-out queue is encrypted")
    check(res.get("FanoutDeadLetterQueue", {}).get("Type") == "AWS::SQS::Queue" and dlq.get("SqsManagedSseEnabled") is True,
          "the fan-out dead-letter queue is encrypted")
    redrive = queue.get("RedrivePolicy", {})
    check(redrive.get("deadLetterTargetArn") == {"Fn::GetAtt": ["FanoutDeadLetterQueue", "Arn"]}
          and redrive.get("maxReceiveCount") == 5, "the fan-out queue moves a message received 5 times to its dead-letter queue")
    check(queue.get("MessageRetentionPeriod") == 345600 and dlq.get("MessageRetentionPeriod") == 1209600,
          "fan-out messages are kept 4 days, dead letters 14")
    fanout_timeout = fanout.get("Timeout", 3)
    check(isinstance(queue.get("VisibilityTimeout"), int) and queue["VisibilityTimeout"] >= 6 * fanout_timeout,
          f"the fan-out queue's visibility timeout is at least 6 x the fan-out function's timeout ({6 * fanout_timeout} s)")
    event = fanout.get("Events", {}).get("Fanout", {}).get("Properties", {})
    check(event.get("Queue") == FANOUT_QUEUE_ARN, "the fan-out function consumes the fan-out queue (mapped to its alias by SAM)")
    check("ReportBatchItemFailures" in event.get("FunctionResponseTypes", []),
          "the Fanout event retries only the failed messages of a batch (ReportBatchItemFailures)")
    check(event.get("ScalingConfig", {}).get("MaximumConcurrency") == {"Ref": "FanoutMaxConcurrency"},
          "the Fanout event's MaximumConcurrency is the FanoutMaxConcurrency parameter")
    check(event.get("BatchSize") == {"Ref": "FanoutBatchSize"} and event.get("MaximumBatchingWindowInSeconds") == 0,
          "the Fanout event's BatchSize is the FanoutBatchSize parameter, without a batching window")
    attributes = {a.get("AttributeName"): a.get("AttributeType") for a in tp.get("AttributeDefinitions", [])}
    check(attributes.get("areaKey") == "S" and attributes.get("areaUser") == "S",
          "the state table defines areaKey and areaUser as strings")
    indexes = {i.get("IndexName"): i for i in tp.get("GlobalSecondaryIndexes", [])}
    area = indexes.get("area", {})
    check([(k.get("AttributeName"), k.get("KeyType")) for k in area.get("KeySchema", [])]
          == [("areaKey", "HASH"), ("areaUser", "RANGE")], "the state table's index `area` is keyed areaKey, areaUser")
    check(area.get("Projection", {}).get("ProjectionType") == "KEYS_ONLY" and "ProvisionedThroughput" not in area,
          "the index `area` projects keys only, on demand")
    for output, ref in [("FanoutQueueUrl", "FanoutQueue"), ("FanoutDeadLetterQueueUrl", "FanoutDeadLetterQueue")]:
        check(out.get(output, {}).get("Value") == {"Ref": ref}, f"the output {output} is the {ref} URL")

    # 12. One-command deploy: the defaults sam deploy reads.
    deploy = config.get("default", {}).get("deploy", {}).get("parameters", {})
    check(deploy.get("capabilities") == "CAPABILITY_IAM" and deploy.get("resolve_s3") is True,
          "samconfig.toml deploys with CAPABILITY_IAM and a managed S3 bucket")
    return problems


# The self-test: (what a copy lacks, how to take it away, a words of the problem it must raise).
def _del(path):
    def mutate(t):
        node = t
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
    return mutate


def _set(path, value):
    def mutate(t):
        node = t
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return mutate


def _key_statement(sid, change):
    def mutate(t):
        key = t["Resources"]["AlarmTopic"]["Properties"]["KmsMasterKeyId"]["Ref"]
        stmts = t["Resources"][key]["Properties"]["KeyPolicy"]["Statement"]
        for i, s in enumerate(stmts):
            if s.get("Sid") == sid:
                if change is None:
                    del stmts[i]
                else:
                    change(s)
                return
        raise KeyError(sid)
    return mutate


def _role_statement(role, action, change):
    """Changes (or, with change None, deletes) the statement of `role` granting `action`."""
    def mutate(t):
        res = t["Resources"]
        docs = [p["PolicyDocument"] for p in res[role]["Properties"].get("Policies", [])]
        docs += [res[a["Ref"]]["Properties"]["PolicyDocument"] for a in res[role]["Properties"].get("ManagedPolicyArns", [])]
        for doc in docs:
            for i, s in enumerate(doc["Statement"]):
                inner = s["Fn::If"][1] if "Fn::If" in s else s
                if action in as_list(inner.get("Action")):
                    if change is None:
                        del doc["Statement"][i]
                    else:
                        doc["Statement"][i] = change(s)
                    return
        raise KeyError(action)
    return mutate


R, G = "Resources", "Globals"
MUTATIONS = [
    ("the alarm topic under alias/aws/sns", _set([R, "AlarmTopic", "Properties", "KmsMasterKeyId"], "alias/aws/sns"),
     "AlarmTopic is encrypted with the stack's customer managed key"),
    ("the alerts topic under alias/aws/sns", _set([R, "AlertsTopic", "Properties", "KmsMasterKeyId"], "alias/aws/sns"),
     "AlertsTopic is encrypted with the stack's customer managed key"),
    ("no grant to CloudWatch in the key policy", _key_statement("CloudWatchAlarmsOfThisAccount", None),
     "grants cloudwatch.amazonaws.com"),
    ("CloudWatch granted Decrypt only", _key_statement("CloudWatchAlarmsOfThisAccount", lambda s: s.update(Action=["kms:Decrypt"])),
     "grants cloudwatch.amazonaws.com"),
    ("CloudWatch's key grant unscoped", _key_statement("CloudWatchAlarmsOfThisAccount", lambda s: s.pop("Condition")),
     "scoped to this account"),
    ("no grant to EventBridge in the key policy", _key_statement("EventBridgeRules", None), "grants events.amazonaws.com"),
    ("no account administration of the key", _key_statement("AccountAdministers", None), "administer the key"),
    ("a key without rotation", _set([R, "NotificationKey", "Properties", "EnableKeyRotation"], False), "rotated"),
    ("no alarm topic policy", _del([R, "AlarmTopicPolicy"]), "AlarmTopic's policy lets cloudwatch.amazonaws.com publish"),
    ("EventBridge may not publish to the alerts topic",
     lambda t: t[R]["AlertsTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"].pop(1),
     "AlertsTopic's policy lets events.amazonaws.com publish"),
    ("the old rollback alarm (any error of the alias)",
     lambda t: t[R]["NewVersionErrorsAlarm"]["Properties"]["Dimensions"].pop(2), "NewVersionErrorsAlarm watches the errors"),
    ("a rollback on one error in a minute",
     lambda t: t[R]["NewVersionErrorsAlarm"]["Properties"].update(Threshold=1, EvaluationPeriods=1, DatapointsToAlarm=1),
     "NewVersionErrorsAlarm needs 2 or more errors"),
    ("the fan-out function without a rollback alarm", _del([R, FANOUT, "Properties", "DeploymentPreference", "Alarms"]),
     "a gradual deployment of FanoutFunction rolls back"),
    ("no heartbeat alarm", _del([R, "PollsStoppedAlarm"]), "heartbeat Polls"),
    ("a heartbeat alarm quiet without data", _set([R, "PollsStoppedAlarm", "Properties", "TreatMissingData"], "notBreaching"),
     "heartbeat Polls"),
    ("a heartbeat alarm without a feed", _del([R, "PollsStoppedAlarm", "Condition"]), "heartbeat Polls"),
    ("no alarm on fan-out item failures", _del([R, "FanoutFailedAlarm"]), "FanoutFailed"),
    ("no alarm on failed notifications", _del([R, "NotificationsFailedAlarm"]), "notifications failing for 10 minutes"),
    ("no alarm on refused notifications", _del([R, "RefusedAlarm"]), "notifications Alexa refused"),
    ("a duration alarm at the timeout itself", _set([R, "DurationAlarm", "Properties", "Threshold"], 30000),
     "duration at 80 to 95 %"),
    ("no fan-out errors alarm", _del([R, "FanoutErrorsAlarm"]), "FanoutErrorsAlarm watches"),
    ("an alarm that notifies nobody", _del([R, "FanoutAgeAlarm", "Properties", "AlarmActions"]), "FanoutAgeAlarm notifies"),
    ("no dead-letter alarm", _del([R, "FanoutDeadLetterAlarm"]), "FanoutDeadLetterAlarm: an alarm"),
    ("the skill function with SAM's role", _del([R, SKILL, "Properties", "Role"]), "ProactiveFunction has a role declared"),
    ("SAM policies beside the role", _set([R, FANOUT, "Properties", "Policies"], ["AWSLambdaSQSQueueExecutionRole"]),
     "FanoutFunction has no SAM Policies"),
    ("an AWS managed policy on a role",
     lambda t: t[R]["FanoutFunctionRole"]["Properties"]["ManagedPolicyArns"].append(
         "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole"), "no AWS managed policy"),
    ("logs written anywhere", _role_statement("ProactiveFunctionRole", "logs:PutLogEvents", lambda s: {**s, "Resource": "*"}),
     "writes only to the functions' log group"),
    ("the fan-out role unable to consume", _role_statement("FanoutFunctionRole", "sqs:ReceiveMessage", None),
     "consumes the fan-out queue only"),
    ("the skill role consuming the queue",
     _role_statement("ProactiveFunctionRole", "sqs:SendMessage",
                     lambda s: {**s, "Action": ["sqs:SendMessage", "sqs:ReceiveMessage"]}), "does not consume any queue"),
    ("no send to the failed-invocations queue", _role_statement("ProactiveFunctionRole", "sqs:SendMessage", None),
     "failed-invocations queue"),
    ("X-Ray writes without tracing", _role_statement("FanoutFunctionRole", "xray:PutTraceSegments", lambda s: s["Fn::If"][1]),
     "X-Ray traces only when Tracing is Active"),
    ("Query on the whole table",
     _role_statement("ProactiveFunctionRole", "dynamodb:Query", lambda s: {**s, "Resource": TABLE_ARN}), "dynamodb:Query only"),
    ("no deletion protection", _del([R, "StateTable", "Properties", "DeletionProtectionEnabled"]), "deletion protection"),
    ("the table created even with ExistingStateTable", _del([R, "StateTable", "Condition"]),
     "created only without ExistingStateTable"),
    ("STATE_TABLE always the created table",
     _set([G, "Function", "Environment", "Variables", "STATE_TABLE"], {"Ref": "StateTable"}), "every reference to StateTable"),
    ("an output naming the created table only", _set(["Outputs", "StateTableName", "Value"], {"Ref": "StateTable"}),
     "every reference to StateTable"),
    ("no ExistingStateTable parameter", _del(["Parameters", "ExistingStateTable"]), "parameter ExistingStateTable"),
    ("tracing on by default", _set(["Parameters", "Tracing", "Default"], "Active"), "not Active by default"),
    ("a function without the Tracing parameter", _set([R, FANOUT, "Properties", "Tracing"], "Active"),
     "FanoutFunction's tracing is the Tracing parameter"),
    ("no fan-out function", _del([R, FANOUT]), "a fan-out function of its own"),
    ("the skill function consuming the queue again",
     lambda t: t[R][SKILL]["Properties"]["Events"].update(Fanout=t[R][FANOUT]["Properties"]["Events"]["Fanout"]),
     "the skill function keeps Alexa, SNS and EventBridge, and consumes no queue"),
    ("a visibility shorter than 6 x the fan-out timeout", _set([R, FANOUT, "Properties", "Timeout"], 60),
     "at least 6 x the fan-out function's timeout"),
    ("no fan-out reserved concurrency", _del([R, FANOUT, "Properties", "ReservedConcurrentExecutions"]),
     "FanoutReservedConcurrency"),
    ("another binary for the fan-out", _set([R, FANOUT, "Metadata", "BuildProperties", "Binary"], "other"),
     "from the one binary"),
    ("another environment for the fan-out", _set([R, FANOUT, "Properties", "Environment"], {"Variables": {"STAGE": "x"}}),
     "the same Environment"),
    ("no FanoutFunctionArn output", _del(["Outputs", "FanoutFunctionArn"]), "FanoutFunctionArn output"),
    ("the dashboard without FanoutFailed",
     lambda t: t[R]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"].__setitem__(
         0, t[R]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"][0].replace('"FanoutFailed"', '"X"')),
     "the dashboard shows FanoutFailed"),
]


def self_test(t, config):
    """The names of the mutations a check missed."""
    missed = []
    for what, mutate, expected in MUTATIONS:
        mutant = copy.deepcopy(t)
        try:
            mutate(mutant)
        except (KeyError, IndexError, TypeError) as err:
            missed.append(f"{what} (the mutation no longer applies: {err!r})")
            continue
        if not any(expected in p for p in problems_of(mutant, config)):
            missed.append(f"{what} (no problem mentions {expected!r})")
    return missed


def main() -> int:
    path = sys.argv[1] if len(sys.argv) > 1 else "template.yaml"
    # Plain dicts and strings (the loader's nodes carry positions), so copies compare equal.
    t = json.loads(json.dumps(cfn_yaml.load(path)))
    with open("samconfig.toml", "rb") as f:
        config = tomllib.load(f)
    problems = problems_of(t, config)
    if problems:
        for problem in problems:
            print(f"{path}: expected: {problem}", file=sys.stderr)
        return 1
    missed = self_test(t, config)
    if missed:
        for what in missed:
            print(f"check-template.py: a copy of {path} lacking this passes: {what}", file=sys.stderr)
        return 1
    print(f"{path}: aliases and rollback, alarms that arrive and mean something, logs, retained data, least privilege, "
          f"triggers, the fan-out's own function and deploy defaults as promised ({len(MUTATIONS)} copies lacking one refused)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
