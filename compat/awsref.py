"""Independent Python statements of AWS rules the compat tests check the server against."""
import datetime


def parse_time(t):
    return int(datetime.datetime.strptime(t, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc).timestamp())


def username(identity):
    """The Username column of event history, by identity type."""
    if not identity:
        return None
    t = identity.get("type")
    name = identity.get("userName")
    arn = identity.get("arn")
    tail = arn.rsplit("/", 1)[-1] if arn else None
    if t in ("IAMUser", "Root", "IdentityCenterUser", "Directory", "SAMLUser", "WebIdentityUser") and name:
        return name
    if t == "Root":
        return "root"
    if t in ("AssumedRole", "FederatedUser", "IAMUser"):
        return tail
    if t == "AWSService":
        return identity.get("invokedBy")
    return name or tail


def resource_name(arn):
    parts = arn.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return arn
    service, resource = parts[2], parts[5]
    if service == "s3" or not resource:
        return resource
    cut = min([i for i in (resource.find("/"), resource.find(":")) if i >= 0], default=-1)
    if cut >= 0 and cut + 1 < len(resource):
        return resource[cut + 1:]
    return resource


def in_history(rec):
    """Whether AWS event history holds the record (management events only)."""
    if rec.get("eventType") == "AwsCloudTrailInsight" or rec.get("eventCategory") == "Insight":
        return False
    cat = rec.get("eventCategory")
    if cat is None:
        return rec.get("managementEvent") is not False
    return cat == "Management"


def attribute_values(rec, key):
    """The values a record has for a LookupEvents attribute key."""
    ident = rec.get("userIdentity") or {}
    res = rec.get("resources") or []
    if key == "EventId":
        return {rec.get("eventID")}
    if key == "EventName":
        return {rec.get("eventName")}
    if key == "EventSource":
        return {rec.get("eventSource")}
    if key == "ReadOnly":
        return {None if rec.get("readOnly") is None else ("true" if rec["readOnly"] else "false")}
    if key == "Username":
        return {username(ident)}
    if key == "AccessKeyId":
        return {ident.get("accessKeyId")}
    if key == "ResourceType":
        return {r.get("type") for r in res}
    if key == "ResourceName":
        out = set()
        for r in res:
            if r.get("ARN"):
                out |= {r["ARN"], resource_name(r["ARN"])}
        return out
    raise KeyError(key)
