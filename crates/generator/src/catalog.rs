//! The API calls the simulated account makes: for each one its service, whether it reads,
//! whether it is a data event, the errors it fails with and how often, and how its
//! `requestParameters`, `responseElements`, `resources` and `additionalEventData` look.
//!
//! Shapes follow what each service really writes to CloudTrail, including the irregular ones:
//! S3 puts `Host` in the request and `x-amz-id-2` in additional data, EC2 wraps lists in
//! `items`, IAM/STS/KMS write dates in Java's medium form, DynamoDB hides key values.

use opentrail_model::{Resource, UserIdentity};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use crate::identities::{
    ADMIN, Actor, ActorKind, Bucket, Content, DEVOPS, Function, IMAGE_LAMBDA, Instance, Key,
    ORDER_LAMBDA, Organisation, Profile, READ_ONLY, Table,
};
use crate::{ids, timefmt};

/// The services the generator simulates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Service {
    /// Amazon S3.
    S3,
    /// Amazon EC2.
    Ec2,
    /// IAM (global).
    Iam,
    /// AWS STS.
    Sts,
    /// AWS KMS.
    Kms,
    /// AWS Lambda.
    Lambda,
    /// Amazon DynamoDB.
    DynamoDb,
    /// AWS Sign-In (console logins).
    Signin,
    /// AWS Systems Manager (its agent reports in from every managed instance).
    Ssm,
    /// CloudWatch Logs (Lambda creates a log stream per execution environment).
    Logs,
}

impl Service {
    /// Every simulated service.
    pub const ALL: [Service; 10] = [
        Service::S3,
        Service::Ec2,
        Service::Iam,
        Service::Sts,
        Service::Kms,
        Service::Lambda,
        Service::DynamoDb,
        Service::Signin,
        Service::Ssm,
        Service::Logs,
    ];

    /// The `eventSource`.
    pub fn event_source(self) -> &'static str {
        match self {
            Service::S3 => "s3.amazonaws.com",
            Service::Ec2 => "ec2.amazonaws.com",
            Service::Iam => "iam.amazonaws.com",
            Service::Sts => "sts.amazonaws.com",
            Service::Kms => "kms.amazonaws.com",
            Service::Lambda => "lambda.amazonaws.com",
            Service::DynamoDb => "dynamodb.amazonaws.com",
            Service::Signin => "signin.amazonaws.com",
            Service::Ssm => "ssm.amazonaws.com",
            Service::Logs => "logs.amazonaws.com",
        }
    }

    /// The service of an `eventSource`, when simulated.
    pub fn from_event_source(source: &str) -> Option<Service> {
        Service::ALL
            .into_iter()
            .find(|s| s.event_source() == source)
    }

    /// The IAM action prefix.
    pub fn prefix(self) -> &'static str {
        match self {
            Service::S3 => "s3",
            Service::Ec2 => "ec2",
            Service::Iam => "iam",
            Service::Sts => "sts",
            Service::Kms => "kms",
            Service::Lambda => "lambda",
            Service::DynamoDb => "dynamodb",
            Service::Signin => "signin",
            Service::Ssm => "ssm",
            Service::Logs => "logs",
        }
    }

    /// Whether calls land in us-east-1 whatever region the caller works in.
    pub fn global(self) -> bool {
        matches!(self, Service::Iam | Service::Sts | Service::Signin)
    }

    /// The `clientProvidedHostHeader` of a call to `region` (`None`: the global endpoint).
    pub fn host(self, region: Option<&str>) -> String {
        match (self, region) {
            (Service::Iam, _) => "iam.amazonaws.com".into(),
            (Service::Signin, _) => "signin.aws.amazon.com".into(),
            (Service::Sts, None) => "sts.amazonaws.com".into(),
            (s, Some(r)) => format!("{}.{r}.amazonaws.com", s.prefix()),
            (s, None) => format!("{}.us-east-1.amazonaws.com", s.prefix()),
        }
    }
}

/// One API the generator can call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Api {
    ListBuckets,
    CreateBucket,
    DeleteBucket,
    GetBucketPolicy,
    PutBucketPolicy,
    GetBucketAcl,
    GetBucketLocation,
    GetObject,
    PutObject,
    DeleteObject,
    HeadObject,
    DescribeInstances,
    RunInstances,
    StartInstances,
    StopInstances,
    TerminateInstances,
    DescribeSecurityGroups,
    AuthorizeSecurityGroupIngress,
    CreateTags,
    DescribeVolumes,
    CreateUser,
    DeleteUser,
    AttachUserPolicy,
    CreateAccessKey,
    ListUsers,
    GetUser,
    CreateRole,
    PutRolePolicy,
    ListRoles,
    AssumeRole,
    AssumeRoleWithSaml,
    GetCallerIdentity,
    GetSessionToken,
    Decrypt,
    Encrypt,
    GenerateDataKey,
    CreateKey,
    ScheduleKeyDeletion,
    DescribeKey,
    Invoke,
    ListFunctions,
    GetFunction,
    CreateFunction,
    UpdateFunctionCode,
    GetItem,
    PutItem,
    Query,
    DescribeTable,
    CreateTable,
    ListTables,
    ConsoleLogin,
    SwitchRole,
    UpdateInstanceInformation,
    CreateLogStream,
}

/// Every API, in declaration order.
pub(crate) const ALL_APIS: [Api; 54] = {
    use Api::*;
    [
        ListBuckets,
        CreateBucket,
        DeleteBucket,
        GetBucketPolicy,
        PutBucketPolicy,
        GetBucketAcl,
        GetBucketLocation,
        GetObject,
        PutObject,
        DeleteObject,
        HeadObject,
        DescribeInstances,
        RunInstances,
        StartInstances,
        StopInstances,
        TerminateInstances,
        DescribeSecurityGroups,
        AuthorizeSecurityGroupIngress,
        CreateTags,
        DescribeVolumes,
        CreateUser,
        DeleteUser,
        AttachUserPolicy,
        CreateAccessKey,
        ListUsers,
        GetUser,
        CreateRole,
        PutRolePolicy,
        ListRoles,
        AssumeRole,
        AssumeRoleWithSaml,
        GetCallerIdentity,
        GetSessionToken,
        Decrypt,
        Encrypt,
        GenerateDataKey,
        CreateKey,
        ScheduleKeyDeletion,
        DescribeKey,
        Invoke,
        ListFunctions,
        GetFunction,
        CreateFunction,
        UpdateFunctionCode,
        GetItem,
        PutItem,
        Query,
        DescribeTable,
        CreateTable,
        ListTables,
        ConsoleLogin,
        SwitchRole,
        UpdateInstanceInformation,
        CreateLogStream,
    ]
};

/// Errors an API fails with: `(errorCode, parts per million of calls)`.
type Errors = &'static [(&'static str, u32)];

/// The static description of an API.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ApiInfo {
    /// Its service.
    pub service: Service,
    /// The `eventName` (AWS's spelling, e.g. `ListFunctions20150331`).
    pub name: &'static str,
    /// `readOnly`.
    pub read_only: bool,
    /// Whether it is a data event.
    pub data: bool,
    /// The IAM action, without the service prefix.
    pub action: &'static str,
    /// The AWS CLI command that makes it (for CLI user agents).
    pub cli: &'static str,
    /// How it fails.
    pub errors: Errors,
}

const fn info(
    service: Service,
    name: &'static str,
    read_only: bool,
    data: bool,
    action: &'static str,
    cli: &'static str,
    errors: Errors,
) -> ApiInfo {
    ApiInfo {
        service,
        name,
        read_only,
        data,
        action,
        cli,
        errors,
    }
}

const ACCESS_DENIED_RARE: Errors = &[("AccessDenied", 4_000)];
const EC2_DESCRIBE: Errors = &[("Client.RequestLimitExceeded", 16_000)];
const EC2_STATE: Errors = &[
    ("Client.InvalidInstanceID.NotFound", 50_000),
    ("Client.IncorrectInstanceState", 30_000),
    ("Client.UnauthorizedOperation", 30_000),
    ("Client.RequestLimitExceeded", 10_000),
];
const KMS_CRYPTO: Errors = &[("AccessDenied", 6_000), ("ThrottlingException", 6_000)];
const IAM_LIST: Errors = &[("Throttling", 6_000)];

impl Api {
    /// The API's description.
    pub fn info(self) -> ApiInfo {
        use Service::*;
        match self {
            Api::ListBuckets => info(
                S3,
                "ListBuckets",
                true,
                false,
                "ListAllMyBuckets",
                "s3.ls",
                ACCESS_DENIED_RARE,
            ),
            Api::CreateBucket => info(
                S3,
                "CreateBucket",
                false,
                false,
                "CreateBucket",
                "s3.mb",
                &[
                    ("BucketAlreadyOwnedByYou", 80_000),
                    ("BucketAlreadyExists", 40_000),
                    ("AccessDenied", 10_000),
                ],
            ),
            Api::DeleteBucket => info(
                S3,
                "DeleteBucket",
                false,
                false,
                "DeleteBucket",
                "s3.rb",
                &[("BucketNotEmpty", 150_000), ("NoSuchBucket", 60_000)],
            ),
            Api::GetBucketPolicy => info(
                S3,
                "GetBucketPolicy",
                true,
                false,
                "GetBucketPolicy",
                "s3api.get-bucket-policy",
                &[("NoSuchBucketPolicy", 240_000), ("AccessDenied", 6_000)],
            ),
            Api::PutBucketPolicy => info(
                S3,
                "PutBucketPolicy",
                false,
                false,
                "PutBucketPolicy",
                "s3api.put-bucket-policy",
                &[("MalformedPolicy", 40_000), ("AccessDenied", 20_000)],
            ),
            Api::GetBucketAcl => info(
                S3,
                "GetBucketAcl",
                true,
                false,
                "GetBucketAcl",
                "s3api.get-bucket-acl",
                &[("NoSuchBucket", 6_000), ("AccessDenied", 6_000)],
            ),
            Api::GetBucketLocation => info(
                S3,
                "GetBucketLocation",
                true,
                false,
                "GetBucketLocation",
                "s3api.get-bucket-location",
                &[("NoSuchBucket", 6_000)],
            ),
            Api::GetObject => info(
                S3,
                "GetObject",
                true,
                true,
                "GetObject",
                "s3.cp",
                &[("NoSuchKey", 24_000), ("AccessDenied", 12_000)],
            ),
            Api::PutObject => info(
                S3,
                "PutObject",
                false,
                true,
                "PutObject",
                "s3.cp",
                &[("AccessDenied", 8_000), ("SlowDown", 2_000)],
            ),
            Api::DeleteObject => info(
                S3,
                "DeleteObject",
                false,
                true,
                "DeleteObject",
                "s3.rm",
                &[("AccessDenied", 16_000)],
            ),
            Api::HeadObject => info(
                S3,
                "HeadObject",
                true,
                true,
                "GetObject",
                "s3api.head-object",
                &[("NoSuchKey", 50_000)],
            ),
            Api::DescribeInstances => info(
                Ec2,
                "DescribeInstances",
                true,
                false,
                "DescribeInstances",
                "ec2.describe-instances",
                EC2_DESCRIBE,
            ),
            Api::RunInstances => info(
                Ec2,
                "RunInstances",
                false,
                false,
                "RunInstances",
                "ec2.run-instances",
                &[
                    ("Client.UnauthorizedOperation", 40_000),
                    ("Server.InsufficientInstanceCapacity", 20_000),
                    ("Client.InvalidParameterValue", 20_000),
                ],
            ),
            Api::StartInstances => info(
                Ec2,
                "StartInstances",
                false,
                false,
                "StartInstances",
                "ec2.start-instances",
                EC2_STATE,
            ),
            Api::StopInstances => info(
                Ec2,
                "StopInstances",
                false,
                false,
                "StopInstances",
                "ec2.stop-instances",
                EC2_STATE,
            ),
            Api::TerminateInstances => info(
                Ec2,
                "TerminateInstances",
                false,
                false,
                "TerminateInstances",
                "ec2.terminate-instances",
                EC2_STATE,
            ),
            Api::DescribeSecurityGroups => info(
                Ec2,
                "DescribeSecurityGroups",
                true,
                false,
                "DescribeSecurityGroups",
                "ec2.describe-security-groups",
                EC2_DESCRIBE,
            ),
            Api::AuthorizeSecurityGroupIngress => info(
                Ec2,
                "AuthorizeSecurityGroupIngress",
                false,
                false,
                "AuthorizeSecurityGroupIngress",
                "ec2.authorize-security-group-ingress",
                &[
                    ("Client.InvalidPermission.Duplicate", 160_000),
                    ("Client.UnauthorizedOperation", 20_000),
                ],
            ),
            Api::CreateTags => info(
                Ec2,
                "CreateTags",
                false,
                false,
                "CreateTags",
                "ec2.create-tags",
                &[("Client.InvalidInstanceID.NotFound", 20_000)],
            ),
            Api::DescribeVolumes => info(
                Ec2,
                "DescribeVolumes",
                true,
                false,
                "DescribeVolumes",
                "ec2.describe-volumes",
                EC2_DESCRIBE,
            ),
            Api::CreateUser => info(
                Iam,
                "CreateUser",
                false,
                false,
                "CreateUser",
                "iam.create-user",
                &[("EntityAlreadyExists", 100_000), ("AccessDenied", 20_000)],
            ),
            Api::DeleteUser => info(
                Iam,
                "DeleteUser",
                false,
                false,
                "DeleteUser",
                "iam.delete-user",
                &[("DeleteConflict", 120_000), ("NoSuchEntity", 80_000)],
            ),
            Api::AttachUserPolicy => info(
                Iam,
                "AttachUserPolicy",
                false,
                false,
                "AttachUserPolicy",
                "iam.attach-user-policy",
                &[("NoSuchEntity", 40_000), ("AccessDenied", 20_000)],
            ),
            Api::CreateAccessKey => info(
                Iam,
                "CreateAccessKey",
                false,
                false,
                "CreateAccessKey",
                "iam.create-access-key",
                &[("LimitExceeded", 100_000)],
            ),
            Api::ListUsers => info(
                Iam,
                "ListUsers",
                true,
                false,
                "ListUsers",
                "iam.list-users",
                IAM_LIST,
            ),
            Api::GetUser => info(
                Iam,
                "GetUser",
                true,
                false,
                "GetUser",
                "iam.get-user",
                &[("NoSuchEntity", 30_000)],
            ),
            Api::CreateRole => info(
                Iam,
                "CreateRole",
                false,
                false,
                "CreateRole",
                "iam.create-role",
                &[
                    ("EntityAlreadyExists", 100_000),
                    ("MalformedPolicyDocument", 20_000),
                ],
            ),
            Api::PutRolePolicy => info(
                Iam,
                "PutRolePolicy",
                false,
                false,
                "PutRolePolicy",
                "iam.put-role-policy",
                &[
                    ("MalformedPolicyDocument", 40_000),
                    ("NoSuchEntity", 20_000),
                ],
            ),
            Api::ListRoles => info(
                Iam,
                "ListRoles",
                true,
                false,
                "ListRoles",
                "iam.list-roles",
                IAM_LIST,
            ),
            Api::AssumeRole => info(
                Sts,
                "AssumeRole",
                true,
                false,
                "AssumeRole",
                "sts.assume-role",
                &[("AccessDenied", 30_000)],
            ),
            Api::AssumeRoleWithSaml => info(
                Sts,
                "AssumeRoleWithSAML",
                true,
                false,
                "AssumeRoleWithSAML",
                "sts.assume-role-with-saml",
                &[],
            ),
            Api::GetCallerIdentity => info(
                Sts,
                "GetCallerIdentity",
                true,
                false,
                "GetCallerIdentity",
                "sts.get-caller-identity",
                &[],
            ),
            Api::GetSessionToken => info(
                Sts,
                "GetSessionToken",
                true,
                false,
                "GetSessionToken",
                "sts.get-session-token",
                &[("AccessDenied", 20_000)],
            ),
            Api::Decrypt => info(
                Kms,
                "Decrypt",
                true,
                false,
                "Decrypt",
                "kms.decrypt",
                &[
                    ("AccessDenied", 6_000),
                    ("ThrottlingException", 6_000),
                    ("InvalidCiphertextException", 4_000),
                ],
            ),
            Api::Encrypt => info(
                Kms,
                "Encrypt",
                true,
                false,
                "Encrypt",
                "kms.encrypt",
                KMS_CRYPTO,
            ),
            Api::GenerateDataKey => info(
                Kms,
                "GenerateDataKey",
                true,
                false,
                "GenerateDataKey",
                "kms.generate-data-key",
                KMS_CRYPTO,
            ),
            Api::CreateKey => info(
                Kms,
                "CreateKey",
                false,
                false,
                "CreateKey",
                "kms.create-key",
                &[("AccessDenied", 20_000)],
            ),
            Api::ScheduleKeyDeletion => info(
                Kms,
                "ScheduleKeyDeletion",
                false,
                false,
                "ScheduleKeyDeletion",
                "kms.schedule-key-deletion",
                &[
                    ("KMSInvalidStateException", 100_000),
                    ("NotFoundException", 40_000),
                ],
            ),
            Api::DescribeKey => info(
                Kms,
                "DescribeKey",
                true,
                false,
                "DescribeKey",
                "kms.describe-key",
                &[("NotFoundException", 30_000)],
            ),
            Api::Invoke => info(
                Lambda,
                "Invoke",
                false,
                true,
                "InvokeFunction",
                "lambda.invoke",
                &[
                    ("TooManyRequestsException", 8_000),
                    ("ResourceNotFoundException", 4_000),
                ],
            ),
            Api::ListFunctions => info(
                Lambda,
                "ListFunctions20150331",
                true,
                false,
                "ListFunctions",
                "lambda.list-functions",
                &[("ThrottlingException", 6_000)],
            ),
            Api::GetFunction => info(
                Lambda,
                "GetFunction20150331v2",
                true,
                false,
                "GetFunction",
                "lambda.get-function",
                &[("ResourceNotFoundException", 40_000)],
            ),
            Api::CreateFunction => info(
                Lambda,
                "CreateFunction20150331",
                false,
                false,
                "CreateFunction",
                "lambda.create-function",
                &[
                    ("ResourceConflictException", 100_000),
                    ("InvalidParameterValueException", 40_000),
                ],
            ),
            Api::UpdateFunctionCode => info(
                Lambda,
                "UpdateFunctionCode20150331v2",
                false,
                false,
                "UpdateFunctionCode",
                "lambda.update-function-code",
                &[("ResourceConflictException", 60_000)],
            ),
            Api::GetItem => info(
                DynamoDb,
                "GetItem",
                true,
                true,
                "GetItem",
                "dynamodb.get-item",
                &[
                    ("ProvisionedThroughputExceededException", 6_000),
                    ("ResourceNotFoundException", 2_000),
                ],
            ),
            Api::PutItem => info(
                DynamoDb,
                "PutItem",
                false,
                true,
                "PutItem",
                "dynamodb.put-item",
                &[
                    ("ConditionalCheckFailedException", 50_000),
                    ("ProvisionedThroughputExceededException", 6_000),
                ],
            ),
            Api::Query => info(
                DynamoDb,
                "Query",
                true,
                true,
                "Query",
                "dynamodb.query",
                &[
                    ("ProvisionedThroughputExceededException", 6_000),
                    ("ValidationException", 4_000),
                ],
            ),
            Api::DescribeTable => info(
                DynamoDb,
                "DescribeTable",
                true,
                false,
                "DescribeTable",
                "dynamodb.describe-table",
                &[("ResourceNotFoundException", 30_000)],
            ),
            Api::CreateTable => info(
                DynamoDb,
                "CreateTable",
                false,
                false,
                "CreateTable",
                "dynamodb.create-table",
                &[
                    ("ResourceInUseException", 100_000),
                    ("LimitExceededException", 10_000),
                ],
            ),
            Api::ListTables => info(
                DynamoDb,
                "ListTables",
                true,
                false,
                "ListTables",
                "dynamodb.list-tables",
                &[],
            ),
            Api::ConsoleLogin => info(
                Signin,
                "ConsoleLogin",
                false,
                false,
                "ConsoleLogin",
                "",
                &[],
            ),
            Api::SwitchRole => info(Signin, "SwitchRole", false, false, "SwitchRole", "", &[]),
            Api::UpdateInstanceInformation => info(
                Ssm,
                "UpdateInstanceInformation",
                false,
                false,
                "UpdateInstanceInformation",
                "",
                &[("ThrottlingException", 8_000)],
            ),
            Api::CreateLogStream => info(
                Logs,
                "CreateLogStream",
                false,
                false,
                "CreateLogStream",
                "",
                &[
                    ("ResourceAlreadyExistsException", 20_000),
                    ("ThrottlingException", 4_000),
                ],
            ),
        }
    }

    /// The API of an `eventSource` and `eventName`, when simulated.
    pub fn find(event_source: &str, event_name: &str) -> Option<Api> {
        ALL_APIS.into_iter().find(|a| {
            let i = a.info();
            i.name == event_name && i.service.event_source() == event_source
        })
    }
}

/// The APIs an actor of `profile` calls, with relative weights.
pub(crate) fn profile_table(profile: Profile) -> &'static [(Api, u32)] {
    use Api::*;
    match profile {
        Profile::Cli => &[
            (DescribeInstances, 120),
            (DescribeSecurityGroups, 40),
            (DescribeVolumes, 30),
            (StartInstances, 12),
            (StopInstances, 12),
            (RunInstances, 6),
            (CreateTags, 12),
            (TerminateInstances, 4),
            (AuthorizeSecurityGroupIngress, 4),
            (ListBuckets, 40),
            (GetBucketLocation, 30),
            (GetBucketPolicy, 10),
            (GetBucketAcl, 10),
            (GetObject, 70),
            (PutObject, 35),
            (HeadObject, 20),
            (DeleteObject, 6),
            (GetCallerIdentity, 50),
            (AssumeRole, 25),
            (GetSessionToken, 4),
            (ListFunctions, 25),
            (GetFunction, 20),
            (Invoke, 8),
            (UpdateFunctionCode, 8),
            (ListTables, 15),
            (DescribeTable, 20),
            (Query, 20),
            (GetItem, 12),
            (PutItem, 3),
            (DescribeKey, 6),
            (Decrypt, 10),
            (Encrypt, 3),
            (GenerateDataKey, 3),
            (GetUser, 10),
            (ListRoles, 8),
            (ListUsers, 5),
        ],
        Profile::Console => &[
            (ConsoleLogin, 6),
            (SwitchRole, 5),
            (DescribeInstances, 80),
            (DescribeSecurityGroups, 30),
            (DescribeVolumes, 20),
            (StartInstances, 10),
            (StopInstances, 10),
            (CreateTags, 10),
            (RunInstances, 5),
            (TerminateInstances, 3),
            (AuthorizeSecurityGroupIngress, 3),
            (ListBuckets, 40),
            (GetBucketLocation, 20),
            (GetBucketAcl, 25),
            (GetBucketPolicy, 25),
            (CreateBucket, 3),
            (PutBucketPolicy, 4),
            (GetObject, 12),
            (PutObject, 5),
            (ListUsers, 25),
            (ListRoles, 25),
            (GetUser, 15),
            (ListFunctions, 25),
            (GetFunction, 15),
            (ListTables, 15),
            (DescribeTable, 15),
            (DescribeKey, 8),
        ],
        Profile::Admin => &[
            (ConsoleLogin, 3),
            (SwitchRole, 2),
            (CreateUser, 2),
            (DeleteUser, 1),
            (AttachUserPolicy, 3),
            (CreateAccessKey, 2),
            (CreateRole, 2),
            (PutRolePolicy, 5),
            (ListUsers, 20),
            (ListRoles, 20),
            (GetUser, 15),
            (CreateKey, 1),
            (ScheduleKeyDeletion, 1),
            (DescribeKey, 10),
            (CreateBucket, 3),
            (DeleteBucket, 1),
            (PutBucketPolicy, 4),
            (GetBucketPolicy, 15),
            (ListBuckets, 10),
            (CreateTable, 2),
            (DescribeTable, 5),
            (DescribeInstances, 30),
            (TerminateInstances, 3),
            (AuthorizeSecurityGroupIngress, 3),
            (DescribeSecurityGroups, 10),
            (GetCallerIdentity, 15),
            (AssumeRole, 10),
            (CreateFunction, 2),
            (ListFunctions, 5),
        ],
        Profile::Deploy => &[
            (GetCallerIdentity, 40),
            (AssumeRole, 10),
            (DescribeInstances, 50),
            (DescribeSecurityGroups, 40),
            (DescribeVolumes, 20),
            (RunInstances, 4),
            (CreateTags, 20),
            (TerminateInstances, 3),
            (AuthorizeSecurityGroupIngress, 4),
            (GetFunction, 40),
            (ListFunctions, 10),
            (UpdateFunctionCode, 25),
            (CreateFunction, 1),
            (GetUser, 5),
            (ListRoles, 10),
            (CreateRole, 1),
            (PutRolePolicy, 6),
            (GetBucketPolicy, 15),
            (GetBucketAcl, 15),
            (GetBucketLocation, 10),
            (GetObject, 25),
            (PutObject, 15),
            (DescribeTable, 20),
            (GetItem, 12),
            (PutItem, 8),
            (DescribeKey, 10),
            (Decrypt, 6),
        ],
        Profile::Monitor => &[
            (DescribeInstances, 40),
            (DescribeVolumes, 20),
            (DescribeSecurityGroups, 10),
            (ListFunctions, 15),
            (DescribeTable, 15),
            (ListTables, 5),
            (ListBuckets, 10),
            (GetBucketLocation, 10),
            (GetCallerIdentity, 3),
        ],
        Profile::LambdaApp => &[
            (GetItem, 120),
            (PutItem, 60),
            (Query, 80),
            (GetObject, 100),
            (PutObject, 50),
            (HeadObject, 30),
            (DeleteObject, 5),
            (Decrypt, 45),
            (GenerateDataKey, 20),
            (Encrypt, 5),
            (Invoke, 20),
            (CreateLogStream, 70),
            (GetCallerIdentity, 2),
        ],
        Profile::Ec2App => &[
            (GetObject, 80),
            (PutObject, 40),
            (HeadObject, 20),
            (GetItem, 60),
            (Query, 40),
            (PutItem, 20),
            (Decrypt, 35),
            (GenerateDataKey, 10),
            (DescribeInstances, 12),
            (DescribeVolumes, 4),
            (DescribeSecurityGroups, 3),
            (UpdateInstanceInformation, 160),
            (GetCallerIdentity, 3),
        ],
        Profile::SamlSignIn => &[(AssumeRoleWithSaml, 1)],
        Profile::CrossAccount => &[(AssumeRole, 1)],
        Profile::Root => &[
            (ConsoleLogin, 30),
            (ListBuckets, 10),
            (ListUsers, 8),
            (DescribeInstances, 5),
            (GetBucketAcl, 3),
            (CreateAccessKey, 1),
        ],
        Profile::ServiceAssumeLambda | Profile::ServiceAssumeEc2 => &[(AssumeRole, 1)],
        Profile::ServiceCloudTrail => &[(GenerateDataKey, 1)],
        Profile::ServiceInvoke => &[(Invoke, 1)],
    }
}

/// Whether `actor` can make `api` at all (only some credentials can sign in, assume roles or
/// ask for session tokens).
pub(crate) fn allowed(api: Api, actor: &Actor) -> bool {
    match api {
        Api::ConsoleLogin => actor.can_sign_in,
        Api::SwitchRole => {
            actor.kind == ActorKind::RoleSession && actor.console && !actor.can_sign_in
        }
        Api::AssumeRole => !actor.assume_targets.is_empty() && actor.kind != ActorKind::SamlUser,
        Api::AssumeRoleWithSaml => actor.kind == ActorKind::SamlUser,
        Api::GetSessionToken => actor.kind == ActorKind::IamUserKey,
        _ => true,
    }
}

/// What a builder needs: the organisation, the caller, where and when.
pub(crate) struct Ctx<'a> {
    /// The event's rng.
    pub rng: &'a mut ChaCha8Rng,
    /// The account.
    pub org: &'a Organisation,
    /// The caller.
    pub actor: &'a Actor,
    /// The region index the caller works in for this event.
    pub region: usize,
    /// Event time, seconds since the epoch.
    pub secs: i64,
    /// An error code the event must fail with (ErrorStorm anomalies).
    pub forced_error: Option<&'a str>,
}

/// A failure decided by the builder itself (console sign-in), which keeps its response.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    /// `errorCode`, absent on failed sign-ins.
    pub code: Option<String>,
    /// `errorMessage`.
    pub message: String,
}

/// The API-specific parts of one event.
#[derive(Debug, Default)]
pub(crate) struct Call {
    /// `requestParameters` (`null` when the API takes none).
    pub params: Value,
    /// `responseElements` on success.
    pub response: Value,
    /// `resources`, where AWS lists them.
    pub resources: Option<Vec<Resource>>,
    /// `additionalEventData`.
    pub additional: Option<Value>,
    /// The region the call really went to, when the resource decides it.
    pub region: Option<usize>,
    /// The Host header, when not the service's regional endpoint.
    pub host: Option<String>,
    /// The ARN an AccessDenied message names.
    pub target_arn: String,
    /// The short name other error messages name (bucket, instance id, user, ...).
    pub target_name: String,
    /// A `userIdentity` replacing the actor's (sign-in events).
    pub identity: Option<UserIdentity>,
    /// Sign-in events carry no `requestID`.
    pub no_request_id: bool,
    /// `eventType`, when not `AwsApiCall`.
    pub event_type: Option<&'static str>,
    /// The AWS service that made the call on the actor's behalf (`invokedBy`).
    pub via_service: Option<&'static str>,
    /// A failure the builder decided.
    pub failure: Option<Failure>,
    /// Sign-in events never carry `sessionCredentialFromConsole`.
    pub not_from_console: bool,
    /// A user agent replacing the actor's client (agents running beside it).
    pub user_agent: Option<&'static str>,
}

fn pick<'b, T>(rng: &mut ChaCha8Rng, items: &'b [T]) -> &'b T {
    &items[rng.random_range(0..items.len())]
}

fn chance(rng: &mut ChaCha8Rng, per_million: u32) -> bool {
    rng.random_range(0..1_000_000) < per_million
}

fn resource(arn: &str, account: Option<&str>, ty: &str) -> Resource {
    Resource {
        arn: Some(arn.to_owned()),
        account_id: account.map(str::to_owned),
        resource_type: Some(ty.to_owned()),
        ..Default::default()
    }
}

/// A size spread over orders of magnitude (2^lo ..= 2^hi bytes), with integers only.
fn spread_size(rng: &mut ChaCha8Rng, lo: u32, hi: u32) -> u64 {
    let e = rng.random_range(lo..=hi);
    (1u64 << e) + rng.random_range(0..(1u64 << e))
}

/// Builds the API-specific parts of a call.
pub(crate) fn build(api: Api, ctx: &mut Ctx<'_>) -> Call {
    use Api::*;
    match api {
        ListBuckets => s3_list_buckets(ctx),
        CreateBucket => s3_create_bucket(ctx),
        DeleteBucket => s3_delete_bucket(ctx),
        GetBucketPolicy => s3_bucket_read(ctx, Some("policy")),
        GetBucketAcl => s3_bucket_read(ctx, Some("acl")),
        GetBucketLocation => s3_bucket_read(ctx, Some("location")),
        PutBucketPolicy => s3_put_bucket_policy(ctx),
        GetObject | HeadObject | PutObject | DeleteObject => s3_object(ctx, api),
        DescribeInstances => ec2_describe_instances(ctx),
        DescribeSecurityGroups => ec2_simple(
            ctx,
            json!({"securityGroupSet": {}, "securityGroupIdSet": {}, "filterSet": {}}),
        ),
        DescribeVolumes => ec2_describe_volumes(ctx),
        RunInstances => ec2_run_instances(ctx),
        StartInstances | StopInstances | TerminateInstances => ec2_state_change(ctx, api),
        AuthorizeSecurityGroupIngress => ec2_authorize_ingress(ctx),
        CreateTags => ec2_create_tags(ctx),
        CreateUser | DeleteUser | AttachUserPolicy | CreateAccessKey | GetUser => {
            iam_user_call(ctx, api)
        }
        ListUsers | ListRoles => Call {
            target_arn: format!("arn:aws:iam::{}:user/", ctx.org.account),
            ..Default::default()
        },
        CreateRole => iam_create_role(ctx),
        PutRolePolicy => iam_put_role_policy(ctx),
        AssumeRole => sts_assume_role(ctx),
        AssumeRoleWithSaml => sts_assume_role_with_saml(ctx),
        GetCallerIdentity => Call::default(),
        GetSessionToken => sts_get_session_token(ctx),
        Decrypt | Encrypt | GenerateDataKey => kms_crypto(ctx, api),
        CreateKey => kms_create_key(ctx),
        ScheduleKeyDeletion => kms_schedule_deletion(ctx),
        DescribeKey => kms_describe_key(ctx),
        Invoke => lambda_invoke(ctx),
        ListFunctions => Call {
            target_arn: format!(
                "arn:aws:lambda:{}:{}:function:*",
                ctx.org.regions[ctx.region].name, ctx.org.account
            ),
            ..Default::default()
        },
        GetFunction => lambda_get_function(ctx),
        CreateFunction | UpdateFunctionCode => lambda_write(ctx, api),
        GetItem | PutItem | Query | DescribeTable => dynamodb_table_call(ctx, api),
        CreateTable => dynamodb_create_table(ctx),
        ListTables => Call {
            target_arn: format!(
                "arn:aws:dynamodb:{}:{}:table/*",
                ctx.org.regions[ctx.region].name, ctx.org.account
            ),
            ..Default::default()
        },
        ConsoleLogin => console_login(ctx),
        SwitchRole => switch_role(ctx),
        UpdateInstanceInformation => ssm_update_instance_information(ctx),
        CreateLogStream => logs_create_log_stream(ctx),
    }
}

// ----- S3 -----

fn s3_host(bucket: &str, region: &str) -> String {
    format!("{bucket}.s3.{region}.amazonaws.com")
}

fn s3_additional(ctx: &mut Ctx<'_>, bytes_in: u64, bytes_out: u64) -> Value {
    let cipher = ctx.actor.tls.map_or("TLS_AES_128_GCM_SHA256", |t| t.1);
    json!({
        "SignatureVersion": "SigV4",
        "CipherSuite": cipher,
        "bytesTransferredIn": bytes_in,
        "AuthenticationMethod": "AuthHeader",
        "x-amz-id-2": ids::base64_random(ctx.rng, 56),
        "bytesTransferredOut": bytes_out,
    })
}

/// A bucket the caller plausibly uses: workloads stay in their region and away from the
/// state and log buckets, Terraform mostly reads its state bucket.
fn pick_bucket(ctx: &mut Ctx<'_>) -> usize {
    let org = ctx.org;
    if ctx.actor.profile == Profile::Deploy
        && chance(ctx.rng, 700_000)
        && let Some(i) = org
            .buckets
            .iter()
            .position(|b| b.content == Content::TfState)
    {
        return i;
    }
    if let Some(r) = ctx.actor.region {
        let local = &org.regions[r].buckets;
        for _ in 0..4 {
            let b = *pick(ctx.rng, local);
            if !matches!(
                org.buckets[b].content,
                Content::TfState | Content::TrailLogs
            ) {
                return b;
            }
        }
        return local[0];
    }
    ctx.rng.random_range(0..org.buckets.len())
}

fn bucket_resource(org: &Organisation, b: &Bucket) -> Resource {
    resource(&b.arn, Some(&org.account), "AWS::S3::Bucket")
}

fn s3_list_buckets(ctx: &mut Ctx<'_>) -> Call {
    let region = &ctx.org.regions[ctx.region].name;
    let host = format!("s3.{region}.amazonaws.com");
    let out = 600 + 180 * ctx.org.buckets.len() as u64;
    Call {
        params: json!({"Host": host}),
        additional: Some(s3_additional(ctx, 0, out)),
        host: Some(host),
        target_arn: "*".into(),
        ..Default::default()
    }
}

fn s3_create_bucket(ctx: &mut Ctx<'_>) -> Call {
    let org = ctx.org;
    let region = &org.regions[ctx.region].name;
    let purpose = *pick(
        ctx.rng,
        &[
            "scratch",
            "analytics-tmp",
            "ml-datasets",
            "exports",
            "athena-results",
        ],
    );
    let name = format!("acme-{purpose}-{}", ids::hex_id(ctx.rng, "", 6));
    let host = s3_host(&name, region);
    let mut params = serde_json::Map::new();
    if region != "us-east-1" {
        params.insert(
            "CreateBucketConfiguration".into(),
            json!({"LocationConstraint": region, "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/"}),
        );
    }
    params.insert("bucketName".into(), json!(name));
    params.insert("Host".into(), json!(host));
    let arn = format!("arn:aws:s3:::{name}");
    Call {
        params: Value::Object(params),
        additional: Some(s3_additional(ctx, 0, 0)),
        resources: Some(vec![resource(&arn, Some(&org.account), "AWS::S3::Bucket")]),
        host: Some(host),
        target_arn: arn,
        target_name: name,
        ..Default::default()
    }
}

fn s3_delete_bucket(ctx: &mut Ctx<'_>) -> Call {
    let org = ctx.org;
    let region = &org.regions[ctx.region].name;
    let name = format!("acme-scratch-{}", ids::hex_id(ctx.rng, "", 6));
    let host = s3_host(&name, region);
    let arn = format!("arn:aws:s3:::{name}");
    Call {
        params: json!({"bucketName": name, "Host": host}),
        additional: Some(s3_additional(ctx, 0, 0)),
        resources: Some(vec![resource(&arn, Some(&org.account), "AWS::S3::Bucket")]),
        host: Some(host),
        target_arn: arn,
        target_name: name,
        ..Default::default()
    }
}

fn s3_bucket_read(ctx: &mut Ctx<'_>, sub: Option<&str>) -> Call {
    let org = ctx.org;
    let b = &org.buckets[pick_bucket(ctx)];
    let region = &org.regions[b.region].name;
    let host = s3_host(&b.name, region);
    let mut params = serde_json::Map::new();
    params.insert("bucketName".into(), json!(b.name));
    params.insert("Host".into(), json!(host));
    if let Some(sub) = sub {
        params.insert(sub.into(), json!(""));
    }
    Call {
        params: Value::Object(params),
        additional: Some(s3_additional(ctx, 0, 0)),
        resources: Some(vec![bucket_resource(org, b)]),
        region: Some(b.region),
        host: Some(host),
        target_arn: b.arn.clone(),
        target_name: b.name.clone(),
        ..Default::default()
    }
}

fn s3_put_bucket_policy(ctx: &mut Ctx<'_>) -> Call {
    let mut call = s3_bucket_read(ctx, None);
    let arn = call.target_arn.clone();
    if let Value::Object(p) = &mut call.params {
        p.insert(
            "bucketPolicy".into(),
            json!({
                "Version": "2012-10-17",
                "Statement": [{
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [arn, format!("{arn}/*")],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}}
                }]
            }),
        );
        p.insert("policy".into(), json!(""));
    }
    call
}

/// An object key in `bucket` written or read at `secs`, and a plausible size.
fn object_key(ctx: &mut Ctx<'_>, bucket: &Bucket) -> (String, u64) {
    let (y, m, d, h, min) = timefmt::parts(ctx.secs);
    let rng = &mut *ctx.rng;
    match bucket.content {
        Content::Assets => {
            let sku = rng.random_range(10_000..99_999);
            let size = *pick(rng, &["thumb", "medium", "large"]);
            (
                format!("images/products/{sku}/{size}.jpg"),
                spread_size(rng, 14, 21),
            )
        }
        Content::Uploads => {
            let ext = *pick(rng, &["pdf", "png", "jpg", "csv"]);
            (
                format!("uploads/{y}/{m:02}/{d:02}/{}.{ext}", ids::guid(rng)),
                spread_size(rng, 12, 23),
            )
        }
        Content::DataLake => {
            let table = *pick(rng, &["orders", "customers", "clickstream", "inventory"]);
            let part = rng.random_range(0..64);
            (
                format!(
                    "raw/{table}/dt={y}-{m:02}-{d:02}/part-{part:05}-{}.snappy.parquet",
                    ids::hex_id(rng, "", 8)
                ),
                spread_size(rng, 20, 27),
            )
        }
        Content::TfState => {
            let stack = *pick(rng, &["network", "app", "data", "iam"]);
            (
                format!("env:/prod/{stack}/terraform.tfstate"),
                spread_size(rng, 15, 19),
            )
        }
        Content::TrailLogs => {
            let acct = &ctx.org.account;
            let region = &ctx.org.regions[bucket.region].name;
            let min5 = min / 5 * 5;
            (
                format!(
                    "AWSLogs/{acct}/CloudTrail/{region}/{y}/{m:02}/{d:02}/{acct}_CloudTrail_{region}_{y}{m:02}{d:02}T{h:02}{min5:02}Z_{}.json.gz",
                    ids::alphanumeric(rng, 16)
                ),
                spread_size(rng, 11, 17),
            )
        }
        Content::Backups => (
            format!("db/orders/{y}-{m:02}-{d:02}/orders-{h:02}00.dump.gz"),
            spread_size(rng, 24, 30),
        ),
        Content::Reports => {
            let report = *pick(
                rng,
                &["sales-summary", "inventory-levels", "churn", "refunds"],
            );
            (
                format!("reports/daily/{y}-{m:02}-{d:02}/{report}.csv"),
                spread_size(rng, 13, 22),
            )
        }
        Content::Static => {
            let file = match rng.random_range(0..4) {
                0 => "index.html".to_owned(),
                1 => format!("assets/js/app.{}.js", ids::hex_id(rng, "", 8)),
                2 => format!("assets/css/main.{}.css", ids::hex_id(rng, "", 8)),
                _ => format!("assets/img/hero-{}.webp", rng.random_range(1..12)),
            };
            (file, spread_size(rng, 10, 20))
        }
    }
}

fn s3_object(ctx: &mut Ctx<'_>, api: Api) -> Call {
    let org = ctx.org;
    let b = &org.buckets[pick_bucket(ctx)];
    let region = &org.regions[b.region].name;
    let (key, size) = object_key(ctx, b);
    let host = s3_host(&b.name, region);
    let object_arn = format!("{}/{key}", b.arn);
    let (bytes_in, bytes_out) = match api {
        Api::PutObject => (size, 0),
        Api::GetObject => (0, size),
        _ => (0, 0),
    };
    let mut additional = s3_additional(ctx, bytes_in, bytes_out);
    if matches!(api, Api::GetObject | Api::PutObject | Api::HeadObject)
        && let Value::Object(a) = &mut additional
    {
        let sse = if b.kms_key.is_some() {
            "SSE_KMS"
        } else {
            "Default_SSE_S3"
        };
        a.insert("SSEApplied".into(), json!(sse));
    }
    let response = match (api, &b.kms_key) {
        (Api::PutObject, Some(kms)) => json!({
            "x-amz-server-side-encryption": "aws:kms",
            "x-amz-server-side-encryption-aws-kms-key-id": kms,
            "x-amz-server-side-encryption-bucket-key-enabled": true,
        }),
        (Api::PutObject, None) => json!({"x-amz-server-side-encryption": "AES256"}),
        _ => Value::Null,
    };
    Call {
        params: json!({"bucketName": b.name, "Host": host, "key": key}),
        response,
        additional: Some(additional),
        resources: Some(vec![
            resource(&object_arn, None, "AWS::S3::Object"),
            bucket_resource(org, b),
        ]),
        region: Some(b.region),
        host: Some(host),
        target_arn: object_arn,
        target_name: key,
        ..Default::default()
    }
}

// ----- EC2 -----

fn instance<'o>(ctx: &mut Ctx<'o>) -> &'o Instance {
    let org = ctx.org;
    pick(ctx.rng, &org.regions[ctx.region].instances)
}

fn instance_arn(ctx: &Ctx<'_>, id: &str) -> String {
    format!(
        "arn:aws:ec2:{}:{}:instance/{id}",
        ctx.org.regions[ctx.region].name, ctx.org.account
    )
}

fn ec2_simple(ctx: &mut Ctx<'_>, params: Value) -> Call {
    Call {
        params,
        target_arn: format!(
            "arn:aws:ec2:{}:{}:*",
            ctx.org.regions[ctx.region].name, ctx.org.account
        ),
        ..Default::default()
    }
}

fn ec2_describe_instances(ctx: &mut Ctx<'_>) -> Call {
    let params = match ctx.actor.profile {
        Profile::Deploy | Profile::Monitor => json!({
            "instancesSet": {},
            "filterSet": {"items": [{"name": "tag:Environment", "valueSet": {"items": [{"value": "prod"}]}}]}
        }),
        Profile::Ec2App => json!({
            "instancesSet": {},
            "filterSet": {"items": [{"name": "instance-state-name", "valueSet": {"items": [{"value": "running"}]}}]}
        }),
        _ if chance(ctx.rng, 400_000) => {
            let id = &instance(ctx).id;
            json!({"instancesSet": {"items": [{"instanceId": id}]}, "filterSet": {}})
        }
        _ => json!({"instancesSet": {}, "filterSet": {}}),
    };
    ec2_simple(ctx, params)
}

fn ec2_describe_volumes(ctx: &mut Ctx<'_>) -> Call {
    let params = if chance(ctx.rng, 300_000) {
        let id = &instance(ctx).id;
        json!({"volumeSet": {}, "filterSet": {"items": [{"name": "attachment.instance-id", "valueSet": {"items": [{"value": id}]}}]}})
    } else {
        json!({"volumeSet": {}, "filterSet": {}})
    };
    ec2_simple(ctx, params)
}

fn ec2_run_instances(ctx: &mut Ctx<'_>) -> Call {
    let org = ctx.org;
    let region = &org.regions[ctx.region];
    let template = instance(ctx);
    let sg = pick(ctx.rng, &region.security_groups).clone();
    let new_id = ids::ec2_id(ctx.rng, "i-");
    let ip = format!(
        "10.{}.{}.{}",
        ctx.region,
        ctx.rng.random_range(1..48),
        ctx.rng.random_range(4..250)
    );
    let dns_suffix = if region.name == "us-east-1" {
        "ec2.internal".to_owned()
    } else {
        format!("{}.compute.internal", region.name)
    };
    let name = format!(
        "{}-{}",
        pick(ctx.rng, &["web", "worker", "batch", "bastion"]),
        ctx.rng.random_range(1..40)
    );
    let client_token = ids::guid(ctx.rng);
    let reservation = ids::ec2_id(ctx.rng, "r-");
    let request_id = ids::guid(ctx.rng);
    Call {
        params: json!({
            "instancesSet": {"items": [{"imageId": template.ami, "minCount": 1, "maxCount": 1}]},
            "instanceType": template.instance_type,
            "blockDeviceMapping": {},
            "monitoring": {"enabled": false},
            "disableApiTermination": false,
            "disableApiStop": false,
            "clientToken": client_token,
            "subnetId": template.subnet,
            "groupSet": {"items": [{"groupId": sg}]},
            "tagSpecificationSet": {"items": [{"resourceType": "instance", "tags": [{"key": "Name", "value": name}]}]},
        }),
        response: json!({
            "requestId": request_id,
            "reservationId": reservation,
            "ownerId": org.account,
            "groupSet": {},
            "instancesSet": {"items": [{
                "instanceId": new_id,
                "imageId": template.ami,
                "currentInstanceBoundary": {},
                "instanceState": {"code": 0, "name": "pending"},
                "privateDnsName": format!("ip-{}.{dns_suffix}", ip.replace('.', "-")),
                "amiLaunchIndex": 0,
                "productCodes": {},
                "instanceType": template.instance_type,
                "launchTime": ctx.secs * 1000,
                "placement": {"availabilityZone": template.az, "tenancy": "default"},
                "monitoring": {"state": "disabled"},
                "subnetId": template.subnet,
                "vpcId": region.vpc,
                "privateIpAddress": ip,
                "stateReason": {"code": "pending", "message": "pending"},
                "architecture": "x86_64",
                "rootDeviceType": "ebs",
                "rootDeviceName": "/dev/xvda",
                "blockDeviceMapping": {},
                "virtualizationType": "hvm",
                "hypervisor": "xen",
                "groupSet": {"items": [{"groupId": sg, "groupName": "web"}]},
                "sourceDestCheck": true,
                "ebsOptimized": false,
                "enaSupport": true,
                "metadataOptions": {"state": "pending", "httpTokens": "required", "httpPutResponseHopLimit": 2, "httpEndpoint": "enabled"},
            }]},
        }),
        target_arn: instance_arn(ctx, "*"),
        target_name: template.instance_type.into(),
        ..Default::default()
    }
}

fn ec2_state_change(ctx: &mut Ctx<'_>, api: Api) -> Call {
    let id = instance(ctx).id.clone();
    let (prev, now) = match api {
        Api::StartInstances => ((80, "stopped"), (0, "pending")),
        Api::StopInstances => ((16, "running"), (64, "stopping")),
        _ => ((16, "running"), (32, "shutting-down")),
    };
    let params = if api == Api::StopInstances {
        json!({"instancesSet": {"items": [{"instanceId": id}]}, "force": false})
    } else {
        json!({"instancesSet": {"items": [{"instanceId": id}]}})
    };
    let request_id = ids::guid(ctx.rng);
    Call {
        params,
        response: json!({
            "requestId": request_id,
            "instancesSet": {"items": [{
                "instanceId": id,
                "currentState": {"code": now.0, "name": now.1},
                "previousState": {"code": prev.0, "name": prev.1},
            }]},
        }),
        target_arn: instance_arn(ctx, &id),
        target_name: id,
        ..Default::default()
    }
}

fn ec2_authorize_ingress(ctx: &mut Ctx<'_>) -> Call {
    let org = ctx.org;
    let sg = pick(ctx.rng, &org.regions[ctx.region].security_groups).clone();
    let port = *pick(ctx.rng, &[443u16, 443, 80, 22, 5432, 8080]);
    let cidr = *pick(
        ctx.rng,
        &[
            "203.0.113.0/24",
            "198.51.100.0/24",
            "10.0.0.0/16",
            "0.0.0.0/0",
        ],
    );
    let rule = ids::ec2_id(ctx.rng, "sgr-");
    let request_id = ids::guid(ctx.rng);
    let region = &org.regions[ctx.region].name;
    Call {
        params: json!({
            "groupId": sg,
            "ipPermissions": {"items": [{
                "ipProtocol": "tcp", "fromPort": port, "toPort": port, "groups": {},
                "ipRanges": {"items": [{"cidrIp": cidr}]}, "ipv6Ranges": {}, "prefixListIds": {}
            }]}
        }),
        response: json!({
            "requestId": request_id,
            "_return": true,
            "securityGroupRuleSet": {"items": [{
                "groupOwnerId": org.account, "groupId": sg, "securityGroupRuleId": rule,
                "isEgress": false, "ipProtocol": "tcp", "fromPort": port, "toPort": port,
                "cidrIpv4": cidr
            }]}
        }),
        target_arn: format!("arn:aws:ec2:{region}:{}:security-group/{sg}", org.account),
        target_name: format!("peer: {cidr}, TCP, from port: {port}, to port: {port}, ALLOW"),
        ..Default::default()
    }
}

fn ec2_create_tags(ctx: &mut Ctx<'_>) -> Call {
    let id = instance(ctx).id.clone();
    let (key, value) = match ctx.rng.random_range(0..3) {
        0 => ("Owner", ctx.actor.name.clone()),
        1 => ("Environment", "prod".to_owned()),
        _ => (
            "CostCenter",
            format!("cc-{}", ctx.rng.random_range(100..120)),
        ),
    };
    let request_id = ids::guid(ctx.rng);
    Call {
        params: json!({
            "resourcesSet": {"items": [{"resourceId": id}]},
            "tagSet": {"items": [{"key": key, "value": value}]}
        }),
        response: json!({"requestId": request_id, "_return": true}),
        target_arn: instance_arn(ctx, &id),
        target_name: id,
        ..Default::default()
    }
}

// ----- IAM -----

const NEW_USERS: [&str; 6] = [
    "svc-etl",
    "svc-grafana",
    "contractor.jane.doe",
    "temp-auditor",
    "svc-airflow",
    "intern.sam.lee",
];

fn iam_user_call(ctx: &mut Ctx<'_>, api: Api) -> Call {
    let org = ctx.org;
    let acct = &org.account;
    let existing = pick(ctx.rng, &org.users).name;
    let name = match api {
        Api::CreateUser | Api::DeleteUser => *pick(ctx.rng, &NEW_USERS),
        Api::AttachUserPolicy => *pick(ctx.rng, &[NEW_USERS[0], NEW_USERS[1], existing]),
        _ => existing,
    };
    let arn = format!("arn:aws:iam::{acct}:user/{name}");
    let mut call = Call {
        target_arn: arn.clone(),
        target_name: name.to_owned(),
        ..Default::default()
    };
    match api {
        Api::CreateUser => {
            let id = ids::base32_id(ctx.rng, "AIDA", 21);
            call.params = json!({"userName": name, "tags": [{"key": "team", "value": "platform"}]});
            call.response = json!({"user": {
                "path": "/", "userName": name, "userId": id, "arn": arn,
                "createDate": timefmt::java_medium(ctx.secs),
                "tags": [{"key": "team", "value": "platform"}]
            }});
        }
        Api::DeleteUser | Api::GetUser => {
            // `aws iam get-user` without a name describes the caller.
            if api == Api::GetUser
                && ctx.actor.kind == ActorKind::IamUserKey
                && chance(ctx.rng, 500_000)
            {
                call.target_name = ctx.actor.name.clone();
                call.target_arn = ctx.actor.arn.clone();
            } else {
                call.params = json!({"userName": name});
            }
        }
        Api::AttachUserPolicy => {
            let policy = pick(
                ctx.rng,
                &[
                    "arn:aws:iam::aws:policy/ReadOnlyAccess",
                    "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
                    "arn:aws:iam::aws:policy/PowerUserAccess",
                    "arn:aws:iam::aws:policy/CloudWatchReadOnlyAccess",
                ],
            );
            call.params = json!({"userName": name, "policyArn": policy});
        }
        _ => {
            // CreateAccessKey: the root user creates keys for itself, with no user name.
            let key = ids::base32_id(ctx.rng, "AKIA", 20);
            let created = timefmt::java_medium(ctx.secs);
            if ctx.actor.kind == ActorKind::Root {
                call.response = json!({"accessKey": {"accessKeyId": key, "status": "Active", "createDate": created}});
                call.target_arn = ctx.actor.arn.clone();
            } else {
                let name = pick(
                    ctx.rng,
                    &[
                        "ci-deploy",
                        "monitoring-exporter",
                        NEW_USERS[0],
                        NEW_USERS[4],
                    ],
                );
                call.params = json!({"userName": name});
                call.response = json!({"accessKey": {"userName": name, "accessKeyId": key, "status": "Active", "createDate": created}});
                call.target_arn = format!("arn:aws:iam::{acct}:user/{name}");
                call.target_name = (*name).to_owned();
            }
        }
    }
    call
}

/// Percent-encodes like IAM does for policy documents in responses.
fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn iam_create_role(ctx: &mut Ctx<'_>) -> Call {
    let acct = &ctx.org.account;
    let (name, service) = *pick(
        ctx.rng,
        &[
            ("lambda-etl-role", "lambda.amazonaws.com"),
            ("grafana-cloudwatch-role", "ec2.amazonaws.com"),
            ("eks-node-role", "ec2.amazonaws.com"),
            ("step-functions-orders-role", "states.amazonaws.com"),
        ],
    );
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Service":"{service}"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    let arn = format!("arn:aws:iam::{acct}:role/{name}");
    let id = ids::base32_id(ctx.rng, "AROA", 21);
    Call {
        params: json!({
            "roleName": name,
            "assumeRolePolicyDocument": trust,
            "description": "Managed by Terraform",
            "maxSessionDuration": 3600
        }),
        response: json!({"role": {
            "assumeRolePolicyDocument": url_encode(&trust),
            "arn": arn, "roleId": id, "createDate": timefmt::java_medium(ctx.secs),
            "roleName": name, "path": "/"
        }}),
        target_arn: arn,
        target_name: name.into(),
        ..Default::default()
    }
}

fn iam_put_role_policy(ctx: &mut Ctx<'_>) -> Call {
    let org = ctx.org;
    let role = pick(ctx.rng, &org.roles[ORDER_LAMBDA..]);
    let bucket = &org.buckets[ctx.rng.random_range(0..org.buckets.len())];
    let doc = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"{}/*"}}]}}"#,
        bucket.arn
    );
    Call {
        params: json!({"roleName": role.name, "policyName": "inline-s3-access", "policyDocument": doc}),
        target_arn: role.arn.clone(),
        target_name: role.name.into(),
        ..Default::default()
    }
}

// ----- STS -----

fn credentials(ctx: &Ctx<'_>, target: &Actor) -> Value {
    let key = target
        .session_key(ctx.org.seed, ctx.secs)
        .unwrap_or_default();
    let expires = target
        .period_at(ctx.secs)
        .zip(target.session)
        .map_or(ctx.secs + 3600, |((_, start), s)| start + s.period);
    json!({"accessKeyId": key, "expiration": timefmt::java_medium(expires)})
}

fn sts_assume_role(ctx: &mut Ctx<'_>) -> Call {
    let org = ctx.org;
    let actor = ctx.actor;
    let Some(&target_idx) =
        (!actor.assume_targets.is_empty()).then(|| pick(ctx.rng, &actor.assume_targets))
    else {
        return Call::default();
    };
    let target = &org.actors[target_idx];
    let role = &org.roles[target.role.unwrap_or(DEVOPS)];
    let mut params = serde_json::Map::new();
    params.insert("roleArn".into(), json!(role.arn));
    params.insert("roleSessionName".into(), json!(target.name));
    let mut call = Call::default();
    if actor.kind == ActorKind::Service {
        // Services fetch credentials in the workload's own region.
        call.region = target.region;
    } else {
        params.insert("durationSeconds".into(), json!(3600));
        if target.mfa
            && let Some(user) = actor.user
        {
            params.insert(
                "serialNumber".into(),
                json!(format!(
                    "arn:aws:iam::{}:mfa/{}",
                    org.account, org.users[user].name
                )),
            );
        }
    }
    call.params = Value::Object(params);
    call.response = json!({
        "credentials": credentials(ctx, target),
        "assumedRoleUser": {"assumedRoleId": format!("{}:{}", role.id, target.name), "arn": target.arn},
    });
    call.resources = Some(vec![resource(
        &role.arn,
        Some(&org.account),
        "AWS::IAM::Role",
    )]);
    call.target_arn = role.arn.clone();
    call.target_name = role.name.into();
    call
}

fn sts_assume_role_with_saml(ctx: &mut Ctx<'_>) -> Call {
    let org = ctx.org;
    let Some(&target_idx) = ctx.actor.assume_targets.first() else {
        return Call::default();
    };
    let target = &org.actors[target_idx];
    let role = &org.roles[target.role.unwrap_or(DEVOPS)];
    let assertion = format!(
        "id{}",
        ids::upper_alphanumeric(ctx.rng, 24).to_ascii_lowercase()
    );
    Call {
        params: json!({
            "sAMLAssertionID": assertion,
            "roleSessionName": target.name,
            "durationSeconds": 43200,
            "roleArn": role.arn,
            "principalArn": org.saml_provider,
        }),
        response: json!({
            "subjectType": "persistent",
            "issuer": org.saml_issuer,
            "audience": "https://signin.aws.amazon.com/saml",
            "credentials": credentials(ctx, target),
            "assumedRoleUser": {"assumedRoleId": format!("{}:{}", role.id, target.name), "arn": target.arn},
            "subject": target.name,
            "nameQualifier": org.saml_qualifier,
        }),
        resources: Some(vec![
            resource(&role.arn, Some(&org.account), "AWS::IAM::Role"),
            resource(
                &org.saml_provider,
                Some(&org.account),
                "AWS::IAM::SAMLProvider",
            ),
        ]),
        target_arn: role.arn.clone(),
        target_name: role.name.into(),
        ..Default::default()
    }
}

fn sts_get_session_token(ctx: &mut Ctx<'_>) -> Call {
    let mut params = serde_json::Map::new();
    params.insert("durationSeconds".into(), json!(43200));
    if ctx.actor.mfa || ctx.actor.user.is_some_and(|u| ctx.org.users[u].mfa) {
        params.insert(
            "serialNumber".into(),
            json!(format!(
                "arn:aws:iam::{}:mfa/{}",
                ctx.org.account, ctx.actor.name
            )),
        );
    }
    let key = ids::base32_id(ctx.rng, "ASIA", 20);
    Call {
        params: Value::Object(params),
        response: json!({"credentials": {"accessKeyId": key, "expiration": timefmt::java_medium(ctx.secs + 43200)}}),
        target_arn: ctx.actor.arn.clone(),
        ..Default::default()
    }
}

// ----- KMS -----

fn key_by_alias<'o>(org: &'o Organisation, region: usize, alias: &str) -> &'o Key {
    let keys = &org.regions[region].keys;
    keys.iter().find(|k| k.alias == alias).unwrap_or(&keys[0])
}

fn kms_crypto(ctx: &mut Ctx<'_>, api: Api) -> Call {
    let org = ctx.org;
    let mut call = Call::default();
    let mut region = ctx.region;
    let (key, context) = if ctx.actor.profile == Profile::ServiceCloudTrail {
        // CloudTrail encrypting a log file of the account's trail.
        region = 0;
        let key = key_by_alias(org, 0, "alias/cloudtrail-logs");
        let bucket = org
            .buckets
            .iter()
            .find(|b| b.content == Content::TrailLogs)
            .unwrap_or(&org.buckets[0]);
        let src_region = ctx.rng.random_range(0..org.regions.len());
        let (object, _) = object_key(
            ctx,
            &Bucket {
                region: src_region,
                ..bucket.clone()
            },
        );
        (
            key,
            json!({"aws:cloudtrail:arn": org.trail_arn, "aws:s3:arn": format!("{}/{object}", bucket.arn)}),
        )
    } else {
        match ctx.rng.random_range(0..10) {
            // S3 asking KMS on the caller's behalf for an SSE-KMS object.
            0..=3 => {
                let key = key_by_alias(org, region, "alias/s3-data");
                let b = &org.buckets[pick_bucket(ctx)];
                let (object, _) = object_key(ctx, b);
                call.via_service = Some("s3.amazonaws.com");
                region = b.region;
                let key = if b.region == ctx.region {
                    key
                } else {
                    key_by_alias(org, b.region, "alias/s3-data")
                };
                (key, json!({"aws:s3:arn": format!("{}/{object}", b.arn)}))
            }
            // DynamoDB using the table's customer managed key.
            4..=5 => {
                let key = key_by_alias(org, region, "alias/dynamodb-orders");
                call.via_service = Some("dynamodb.amazonaws.com");
                (
                    key,
                    json!({"aws:dynamodb:tableName": "orders", "aws:dynamodb:subscriberId": org.account}),
                )
            }
            _ => {
                let key = key_by_alias(org, region, "alias/app-secrets");
                let app = if ctx.actor.profile == Profile::LambdaApp {
                    ctx.actor.name.as_str()
                } else {
                    "web-app"
                };
                (key, json!({"app": app, "purpose": "config"}))
            }
        }
    };
    let params = match api {
        Api::Decrypt => {
            json!({"encryptionAlgorithm": "SYMMETRIC_DEFAULT", "encryptionContext": context})
        }
        Api::Encrypt => {
            json!({"keyId": key.alias, "encryptionAlgorithm": "SYMMETRIC_DEFAULT", "encryptionContext": context})
        }
        _ => json!({"keyId": key.arn, "encryptionContext": context, "keySpec": "AES_256"}),
    };
    call.params = params;
    call.resources = Some(vec![resource(
        &key.arn,
        Some(&org.account),
        "AWS::KMS::Key",
    )]);
    call.region = Some(region);
    call.target_arn = key.arn.clone();
    call.target_name = key.id.clone();
    call
}

fn kms_create_key(ctx: &mut Ctx<'_>) -> Call {
    let org = ctx.org;
    let region = &org.regions[ctx.region].name;
    let id = ids::guid(ctx.rng);
    let arn = format!("arn:aws:kms:{region}:{}:key/{id}", org.account);
    let description = *pick(
        ctx.rng,
        &[
            "Key for analytics exports",
            "Orders table encryption",
            "Backup encryption",
            "Application secrets",
        ],
    );
    Call {
        params: json!({
            "description": description,
            "keyUsage": "ENCRYPT_DECRYPT",
            "keySpec": "SYMMETRIC_DEFAULT",
            "origin": "AWS_KMS",
            "multiRegion": false,
            "bypassPolicyLockoutSafetyCheck": false,
        }),
        response: json!({"keyMetadata": {
            "aWSAccountId": org.account,
            "keyId": id,
            "arn": arn,
            "creationDate": timefmt::java_medium(ctx.secs),
            "enabled": true,
            "description": description,
            "keyUsage": "ENCRYPT_DECRYPT",
            "keyState": "Enabled",
            "origin": "AWS_KMS",
            "keyManager": "CUSTOMER",
            "customerMasterKeySpec": "SYMMETRIC_DEFAULT",
            "keySpec": "SYMMETRIC_DEFAULT",
            "encryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
            "multiRegion": false,
        }}),
        resources: Some(vec![resource(&arn, Some(&org.account), "AWS::KMS::Key")]),
        target_arn: format!("arn:aws:kms:{region}:{}:*", org.account),
        target_name: id,
        ..Default::default()
    }
}

fn kms_schedule_deletion(ctx: &mut Ctx<'_>) -> Call {
    let org = ctx.org;
    let region = &org.regions[ctx.region].name;
    let id = ids::guid(ctx.rng);
    let arn = format!("arn:aws:kms:{region}:{}:key/{id}", org.account);
    let days: i64 = *pick(ctx.rng, &[7, 30, 30]);
    let deletion = (ctx.secs / 86_400 + days + 1) * 86_400;
    Call {
        params: json!({"keyId": id, "pendingWindowInDays": days}),
        response: json!({
            "keyId": arn,
            "deletionDate": timefmt::java_medium(deletion),
            "keyState": "PendingDeletion",
            "pendingWindowInDays": days,
        }),
        resources: Some(vec![resource(&arn, Some(&org.account), "AWS::KMS::Key")]),
        target_name: arn.clone(),
        target_arn: arn,
        ..Default::default()
    }
}

fn kms_describe_key(ctx: &mut Ctx<'_>) -> Call {
    let org = ctx.org;
    let key = pick(ctx.rng, &org.regions[ctx.region].keys);
    let key_id = if chance(ctx.rng, 500_000) {
        key.alias
    } else {
        key.id.as_str()
    };
    Call {
        params: json!({"keyId": key_id}),
        resources: Some(vec![resource(
            &key.arn,
            Some(&org.account),
            "AWS::KMS::Key",
        )]),
        target_arn: key.arn.clone(),
        target_name: key.arn.clone(),
        ..Default::default()
    }
}

// ----- Lambda -----

fn function_in<'o>(ctx: &mut Ctx<'o>, region: usize) -> &'o Function {
    let org = ctx.org;
    pick(ctx.rng, &org.regions[region].functions)
}

fn lambda_invoke(ctx: &mut Ctx<'_>) -> Call {
    let org = ctx.org;
    let mut region = ctx.region;
    let mut params = serde_json::Map::new();
    let function = match ctx.actor.invoked_by {
        Some("s3.amazonaws.com") => {
            // Upload notifications trigger the image resizer in the home region.
            region = 0;
            let f = org.regions[0]
                .functions
                .iter()
                .find(|f| f.role == IMAGE_LAMBDA)
                .unwrap_or(&org.regions[0].functions[0]);
            let bucket = org
                .buckets
                .iter()
                .find(|b| b.content == Content::Uploads)
                .unwrap_or(&org.buckets[0]);
            params.insert("functionName".into(), json!(f.arn));
            params.insert("sourceArn".into(), json!(bucket.arn));
            f
        }
        Some("events.amazonaws.com") => {
            region = 0;
            let f = pick(ctx.rng, &org.regions[0].functions);
            params.insert("functionName".into(), json!(f.arn));
            params.insert(
                "sourceArn".into(),
                json!(format!(
                    "arn:aws:events:{}:{}:rule/{}-schedule",
                    org.regions[0].name, org.account, f.name
                )),
            );
            f
        }
        Some(_) => {
            let f = org.regions[region]
                .functions
                .iter()
                .find(|f| f.name == "order-processor")
                .unwrap_or(&org.regions[region].functions[0]);
            let api_id = ids::mix64(org.seed ^ region as u64) % 0xff_ffff_ffff;
            params.insert("functionName".into(), json!(f.arn));
            params.insert(
                "sourceArn".into(),
                json!(format!(
                    "arn:aws:execute-api:{}:{}:{api_id:010x}/prod/POST/orders",
                    org.regions[region].name, org.account
                )),
            );
            f
        }
        None => {
            let f = function_in(ctx, region);
            params.insert("functionName".into(), json!(f.arn));
            f
        }
    };
    Call {
        params: Value::Object(params),
        additional: Some(json!({"functionVersion": format!("{}:$LATEST", function.arn)})),
        resources: Some(vec![resource(
            &function.arn,
            Some(&org.account),
            "AWS::Lambda::Function",
        )]),
        region: Some(region),
        target_arn: function.arn.clone(),
        target_name: function.name.into(),
        ..Default::default()
    }
}

fn lambda_get_function(ctx: &mut Ctx<'_>) -> Call {
    let f = function_in(ctx, ctx.region);
    Call {
        params: json!({"functionName": f.name}),
        target_arn: f.arn.clone(),
        target_name: f.arn.clone(),
        ..Default::default()
    }
}

fn lambda_write(ctx: &mut Ctx<'_>, api: Api) -> Call {
    let org = ctx.org;
    let region = &org.regions[ctx.region].name;
    let (name, runtime, role, handler, memory, arn) = if api == Api::CreateFunction {
        let name = *pick(
            ctx.rng,
            &[
                "webhook-relay",
                "csv-importer",
                "audit-forwarder",
                "cache-warmer",
            ],
        );
        let role = &org.roles[ORDER_LAMBDA];
        let arn = format!("arn:aws:lambda:{region}:{}:function:{name}", org.account);
        (name, "python3.12", role, "app.handler", 256, arn)
    } else {
        let f = function_in(ctx, ctx.region);
        (
            f.name,
            f.runtime,
            &org.roles[f.role],
            f.handler,
            f.memory,
            f.arn.clone(),
        )
    };
    let code_size = 2_000 + ctx.rng.random_range(0..4_000_000u64);
    let sha = ids::base64_random(ctx.rng, 32);
    let revision = ids::guid(ctx.rng);
    let millis = ctx.rng.random_range(0..1000);
    let mut response = json!({
        "functionName": name,
        "functionArn": arn,
        "runtime": runtime,
        "role": role.arn,
        "handler": handler,
        "codeSize": code_size,
        "description": "",
        "timeout": 30,
        "memorySize": memory,
        "lastModified": timefmt::lambda_modified(ctx.secs, millis),
        "codeSha256": sha,
        "version": "$LATEST",
        "tracingConfig": {"mode": "PassThrough"},
        "revisionId": revision,
        "packageType": "Zip",
        "architectures": ["x86_64"],
        "ephemeralStorage": {"size": 512},
        "snapStart": {"applyOn": "None", "optimizationStatus": "Off"},
        "loggingConfig": {"logFormat": "Text", "logGroup": format!("/aws/lambda/{name}")},
    });
    let params = if let Value::Object(r) = &mut response {
        if api == Api::CreateFunction {
            r.insert("state".into(), json!("Pending"));
            r.insert(
                "stateReason".into(),
                json!("The function is being created."),
            );
            r.insert("stateReasonCode".into(), json!("Creating"));
            json!({
                "functionName": name, "runtime": runtime, "role": role.arn, "handler": handler,
                "code": {}, "description": "", "timeout": 30, "memorySize": memory,
                "publish": false, "packageType": "Zip", "architectures": ["x86_64"]
            })
        } else {
            r.insert("state".into(), json!("Active"));
            r.insert("lastUpdateStatus".into(), json!("InProgress"));
            r.insert(
                "lastUpdateStatusReason".into(),
                json!("The function is being created."),
            );
            r.insert("lastUpdateStatusReasonCode".into(), json!("Creating"));
            json!({"functionName": name, "publish": true, "dryRun": false})
        }
    } else {
        Value::Null
    };
    Call {
        params,
        response,
        target_name: if api == Api::CreateFunction {
            name.into()
        } else {
            arn.clone()
        },
        target_arn: arn,
        ..Default::default()
    }
}

// ----- DynamoDB -----

const HIDDEN: &str = "HIDDEN_DUE_TO_SECURITY_REASONS";

fn pick_table<'o>(ctx: &mut Ctx<'o>) -> &'o Table {
    let org = ctx.org;
    let tables = &org.regions[ctx.region].tables;
    if ctx.actor.profile == Profile::Deploy
        && let Some(t) = tables.iter().find(|t| t.name == "terraform-locks")
    {
        return t;
    }
    for _ in 0..4 {
        let t = pick(ctx.rng, tables);
        if t.name != "terraform-locks" {
            return t;
        }
    }
    &tables[0]
}

fn table_key(t: &Table) -> Value {
    let mut key = serde_json::Map::new();
    key.insert(t.hash_key.into(), json!(HIDDEN));
    if let Some(r) = t.range_key {
        key.insert(r.into(), json!(HIDDEN));
    }
    Value::Object(key)
}

fn dynamodb_table_call(ctx: &mut Ctx<'_>, api: Api) -> Call {
    let org = ctx.org;
    let t = pick_table(ctx);
    let params = match api {
        Api::GetItem => {
            json!({"tableName": t.name, "key": table_key(t), "consistentRead": chance(ctx.rng, 200_000)})
        }
        Api::PutItem => {
            let mut p = json!({
                "tableName": t.name, "key": table_key(t), "item": t.attributes,
                "returnValue": "NONE", "returnConsumedCapacity": "NONE", "returnItemCollectionMetrics": "NONE"
            });
            if chance(ctx.rng, 300_000)
                && let Value::Object(m) = &mut p
            {
                m.insert(
                    "conditionExpression".into(),
                    json!(format!("attribute_not_exists({})", t.hash_key)),
                );
            }
            p
        }
        Api::Query => {
            let (index, attr) = t.index.map_or((None, t.hash_key), |(i, a)| (Some(i), a));
            let mut p = serde_json::Map::new();
            p.insert("tableName".into(), json!(t.name));
            if let Some(i) = index {
                p.insert("indexName".into(), json!(i));
            }
            p.insert("limit".into(), json!(*pick(ctx.rng, &[10, 25, 50, 100])));
            p.insert("select".into(), json!("ALL_ATTRIBUTES"));
            p.insert("keyConditionExpression".into(), json!("#k = :v"));
            p.insert("expressionAttributeNames".into(), json!({"#k": attr}));
            p.insert("scanIndexForward".into(), json!(chance(ctx.rng, 500_000)));
            p.insert("returnConsumedCapacity".into(), json!("NONE"));
            Value::Object(p)
        }
        _ => json!({"tableName": t.name}),
    };
    Call {
        params,
        resources: Some(vec![resource(
            &t.arn,
            Some(&org.account),
            "AWS::DynamoDB::Table",
        )]),
        target_arn: t.arn.clone(),
        target_name: t.name.into(),
        ..Default::default()
    }
}

fn dynamodb_create_table(ctx: &mut Ctx<'_>) -> Call {
    let org = ctx.org;
    let region = &org.regions[ctx.region].name;
    let (name, hash) = *pick(
        ctx.rng,
        &[
            ("feature-flags", "flag"),
            ("audit-events", "eventId"),
            ("rate-limits", "clientId"),
            ("webhooks", "webhookId"),
        ],
    );
    let arn = format!("arn:aws:dynamodb:{region}:{}:table/{name}", org.account);
    let table_id = ids::guid(ctx.rng);
    let attrs = json!([{"attributeName": hash, "attributeType": "S"}]);
    let schema = json!([{"attributeName": hash, "keyType": "HASH"}]);
    Call {
        params: json!({
            "tableName": name, "attributeDefinitions": attrs, "keySchema": schema,
            "billingMode": "PAY_PER_REQUEST", "deletionProtectionEnabled": false
        }),
        response: json!({"tableDescription": {
            "attributeDefinitions": attrs,
            "tableName": name,
            "keySchema": schema,
            "tableStatus": "CREATING",
            "creationDateTime": timefmt::java_medium(ctx.secs),
            "provisionedThroughput": {"numberOfDecreasesToday": 0, "readCapacityUnits": 0, "writeCapacityUnits": 0},
            "tableSizeBytes": 0,
            "itemCount": 0,
            "tableArn": arn,
            "tableId": table_id,
            "billingModeSummary": {"billingMode": "PAY_PER_REQUEST"},
            "deletionProtectionEnabled": false,
        }}),
        resources: Some(vec![resource(
            &arn,
            Some(&org.account),
            "AWS::DynamoDB::Table",
        )]),
        target_arn: arn,
        target_name: name.into(),
        ..Default::default()
    }
}

// ----- Sign-in -----

/// Share of console sign-ins that fail, in parts per million.
const SIGN_IN_FAILURE: u32 = 60_000;

fn console_login(ctx: &mut Ctx<'_>) -> Call {
    let org = ctx.org;
    let actor = ctx.actor;
    let acct = &org.account;
    let saml = actor.kind == ActorKind::RoleSession;
    let failed = ctx.forced_error.is_some() || (!saml && chance(ctx.rng, SIGN_IN_FAILURE));
    let region = &org.regions[ctx.region].name;
    let state = ids::hex_id(ctx.rng, "", 16);
    let login_to = format!(
        "https://console.aws.amazon.com/console/home?hashArgs=%23&isauthcode=true&state=hashArgsFromTB_{region}_{state}"
    );
    let mut additional = serde_json::Map::new();
    additional.insert("LoginTo".into(), json!(login_to));
    additional.insert("MobileVersion".into(), json!("No"));
    let identity = match actor.kind {
        ActorKind::Root => {
            if actor.mfa && !failed {
                additional.insert(
                    "MFAIdentifier".into(),
                    json!(format!("arn:aws:iam::{acct}:mfa/root-account-mfa-device")),
                );
            }
            UserIdentity {
                identity_type: Some("Root".into()),
                principal_id: Some(acct.clone()),
                arn: Some(actor.arn.clone()),
                account_id: Some(acct.clone()),
                access_key_id: Some(String::new()),
                ..Default::default()
            }
        }
        ActorKind::RoleSession => {
            additional.insert("SamlProviderArn".into(), json!(org.saml_provider));
            let mut id = actor.identity_at(org.seed, ctx.secs);
            id.access_key_id = None;
            id
        }
        _ => {
            let user = actor.user.map(|u| &org.users[u]);
            if actor.mfa
                && !failed
                && let Some(u) = user
            {
                additional.insert(
                    "MFAIdentifier".into(),
                    json!(format!("arn:aws:iam::{acct}:mfa/{}", u.name)),
                );
            }
            if failed && chance(ctx.rng, 400_000) {
                // A mistyped user name: AWS hides what was typed.
                UserIdentity {
                    identity_type: Some("IAMUser".into()),
                    account_id: Some(acct.clone()),
                    access_key_id: Some(String::new()),
                    user_name: Some("HIDDEN_DUE_TO_SECURITY_REASONS".into()),
                    ..Default::default()
                }
            } else {
                UserIdentity {
                    identity_type: Some("IAMUser".into()),
                    principal_id: user.map(|u| u.principal_id.clone()),
                    arn: Some(actor.arn.clone()),
                    account_id: Some(acct.clone()),
                    access_key_id: failed.then(String::new),
                    user_name: Some(actor.name.clone()),
                    ..Default::default()
                }
            }
        }
    };
    let mfa_used = actor.mfa && !failed && !saml;
    additional.insert("MFAUsed".into(), json!(if mfa_used { "Yes" } else { "No" }));
    Call {
        params: Value::Null,
        response: json!({"ConsoleLogin": if failed { "Failure" } else { "Success" }}),
        additional: Some(Value::Object(additional)),
        region: Some(ctx.region),
        identity: Some(identity),
        no_request_id: true,
        event_type: Some("AwsConsoleSignIn"),
        failure: failed.then(|| Failure {
            code: None,
            message: "Failed authentication".into(),
        }),
        not_from_console: true,
        target_arn: actor.arn.clone(),
        ..Default::default()
    }
}

fn switch_role(ctx: &mut Ctx<'_>) -> Call {
    let org = ctx.org;
    let actor = ctx.actor;
    let from = actor
        .user
        .map_or_else(|| actor.arn.clone(), |u| org.users[u].arn.clone());
    let role = actor.role.unwrap_or(READ_ONLY);
    let color = if role == ADMIN { "FF0000" } else { "99BCE3" };
    Call {
        params: Value::Null,
        response: json!({"SwitchRole": "Success"}),
        additional: Some(json!({
            "SwitchFrom": from,
            "RedirectTo": format!("https://{}.console.aws.amazon.com/console/home?region={}#color={color}", org.regions[ctx.region].name, org.regions[ctx.region].name),
        })),
        region: Some(ctx.region),
        no_request_id: true,
        event_type: Some("AwsConsoleSignIn"),
        not_from_console: true,
        target_arn: org.roles[role].arn.clone(),
        ..Default::default()
    }
}

// ----- Systems Manager and CloudWatch Logs -----

fn ssm_update_instance_information(ctx: &mut Ctx<'_>) -> Call {
    let org = ctx.org;
    let region = &org.regions[ctx.region];
    // The caller is an instance-role session named after its instance.
    let inst = region
        .instances
        .iter()
        .find(|i| i.id == ctx.actor.name)
        .unwrap_or(&region.instances[0]);
    let ip = &inst.private_ip;
    let dns = if region.name == "us-east-1" {
        format!("ip-{}.ec2.internal", ip.replace('.', "-"))
    } else {
        format!(
            "ip-{}.{}.compute.internal",
            ip.replace('.', "-"),
            region.name
        )
    };
    Call {
        params: json!({
            "instanceId": inst.id,
            "agentVersion": "3.3.380.0",
            "agentStatus": "Active",
            "platformType": "Linux",
            "platformName": "Amazon Linux",
            "platformVersion": "2023",
            "iPAddress": ip,
            "computerName": dns,
            "agentName": "amazon-ssm-agent",
            "availabilityZone": inst.az,
            "sSMConnectionChannel": "ssmmessages",
        }),
        user_agent: Some("aws-sdk-go/1.44.260 (go1.21.9; linux; amd64) amazon-ssm-agent/3.3.380.0"),
        target_arn: format!(
            "arn:aws:ec2:{}:{}:instance/{}",
            region.name, org.account, inst.id
        ),
        target_name: inst.id.clone(),
        ..Default::default()
    }
}

fn logs_create_log_stream(ctx: &mut Ctx<'_>) -> Call {
    let (y, m, d, _, _) = timefmt::parts(ctx.secs);
    let group = format!("/aws/lambda/{}", ctx.actor.name);
    let stream = format!(
        "{y}/{m:02}/{d:02}/[$LATEST]{}",
        ids::hex_id(ctx.rng, "", 32)
    );
    let region = &ctx.org.regions[ctx.region].name;
    Call {
        params: json!({"logGroupName": group, "logStreamName": stream}),
        user_agent: Some("awslambda-worker/1.0 rusoto/0.48.0 rust/1.76.0 linux"),
        target_arn: format!(
            "arn:aws:logs:{region}:{}:log-group:{group}:log-stream:{stream}",
            ctx.org.account
        ),
        target_name: stream,
        ..Default::default()
    }
}

// ----- Errors -----

/// What an error message may name.
pub(crate) struct ErrorSubject<'a> {
    /// The service, when simulated.
    pub service: Option<Service>,
    /// The `eventSource`'s prefix for unknown services.
    pub prefix: &'a str,
    /// The IAM action (without prefix).
    pub action: &'a str,
    /// The caller's ARN.
    pub caller_arn: &'a str,
    /// The resource ARN.
    pub target_arn: &'a str,
    /// The resource's short name.
    pub target_name: &'a str,
}

/// The `errorMessage` AWS writes with `code` (a generic sentence for codes it does not know).
pub(crate) fn error_message(code: &str, s: &ErrorSubject<'_>, rng: &mut ChaCha8Rng) -> String {
    let resource = if s.target_arn.is_empty() {
        "*"
    } else {
        s.target_arn
    };
    let action = format!("{}:{}", s.prefix, s.action);
    let denied = || {
        format!(
            "User: {} is not authorized to perform: {action} on resource: {resource} because no identity-based policy allows the {action} action",
            s.caller_arn
        )
    };
    match code {
        "AccessDenied" | "AccessDeniedException" => denied(),
        "Client.UnauthorizedOperation" => format!(
            "You are not authorized to perform this operation. {}. Encoded authorization failure message: {}",
            denied(),
            ids::base64_random(rng, 72).replace(['+', '/', '='], "-")
        ),
        "NoSuchBucket" => "The specified bucket does not exist".into(),
        "NoSuchKey" => "The specified key does not exist.".into(),
        "NoSuchBucketPolicy" => "The bucket policy does not exist".into(),
        "BucketAlreadyOwnedByYou" => "Your previous request to create the named bucket succeeded and you already own it.".into(),
        "BucketAlreadyExists" => "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.".into(),
        "BucketNotEmpty" => "The bucket you tried to delete is not empty".into(),
        "MalformedPolicy" => "Policies must be valid JSON and the first byte must be '{'".into(),
        "SlowDown" => "Please reduce your request rate.".into(),
        "Client.RequestLimitExceeded" => "Request limit exceeded.".into(),
        "Client.InvalidInstanceID.NotFound" => format!("The instance ID '{}' does not exist", s.target_name),
        "Client.IncorrectInstanceState" => format!("The instance '{}' is not in a state from which it can be stopped.", s.target_name),
        "Client.InvalidPermission.Duplicate" => format!("the specified rule \"{}\" already exists", s.target_name),
        "Client.InvalidParameterValue" => "Value () for parameter groupId is invalid. The value cannot be empty".into(),
        "Server.InsufficientInstanceCapacity" => format!("We currently do not have sufficient {} capacity in the Availability Zone you requested. Our system will be working on provisioning additional capacity. You can currently get capacity by not specifying an Availability Zone in your request or choosing a different Availability Zone.", s.target_name),
        "EntityAlreadyExists" => {
            let kind = if s.action == "CreateRole" { "Role" } else { "User" };
            format!("{kind} with name {} already exists.", s.target_name)
        }
        "NoSuchEntity" => {
            let kind = if s.action.contains("Role") { "role" } else { "user" };
            format!("The {kind} with name {} cannot be found.", s.target_name)
        }
        "DeleteConflict" => "Cannot delete entity, must delete access keys first.".into(),
        "LimitExceeded" => "Cannot exceed quota for AccessKeysPerUser: 2".into(),
        "MalformedPolicyDocument" => "Syntax errors in policy.".into(),
        "Throttling" | "TooManyRequestsException" => "Rate exceeded".into(),
        "ThrottlingException" if s.service == Some(Service::Kms) => "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.".into(),
        "ThrottlingException" => "Rate exceeded".into(),
        "NotFoundException" => format!("Key '{}' does not exist", s.target_arn),
        "KMSInvalidStateException" => format!("{} is pending deletion.", s.target_arn),
        "InvalidCiphertextException" => "The ciphertext refers to a customer master key that does not exist, does not exist in this region, or you are not allowed to access.".into(),
        "ResourceNotFoundException" if s.service == Some(Service::Lambda) => format!("Function not found: {}", s.target_arn),
        "ResourceNotFoundException" if s.action == "DescribeTable" => format!("Requested resource not found: Table: {} not found", s.target_name),
        "ResourceNotFoundException" => "Requested resource not found".into(),
        "ResourceConflictException" if s.action == "CreateFunction" => format!("Function already exist: {}", s.target_name),
        "ResourceConflictException" => format!("The operation cannot be performed at this time. An update is in progress for resource: {}", s.target_arn),
        "InvalidParameterValueException" => "The role defined for the function cannot be assumed by Lambda.".into(),
        "ConditionalCheckFailedException" => "The conditional request failed".into(),
        "ProvisionedThroughputExceededException" => "The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.".into(),
        "ValidationException" => "Query condition missed key schema element".into(),
        "ResourceInUseException" => format!("Table already exists: {}", s.target_name),
        "ResourceAlreadyExistsException" => "The specified log stream already exists".into(),
        "LimitExceededException" => "Subscriber limit exceeded: There is a limit of 2500 tables per account".into(),
        other => format!("The request failed with error {other}."),
    }
}

/// The code a write by a read-only session is denied with.
pub(crate) fn access_denied_code(service: Option<Service>) -> &'static str {
    if service == Some(Service::Ec2) {
        "Client.UnauthorizedOperation"
    } else {
        "AccessDenied"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_api_is_listed_once_and_found_by_name() {
        let mut seen = std::collections::BTreeSet::new();
        for api in ALL_APIS {
            assert!(seen.insert(api), "{api:?} twice");
            let i = api.info();
            assert_eq!(Api::find(i.service.event_source(), i.name), Some(api));
            let total: u32 = i.errors.iter().map(|e| e.1).sum();
            assert!(total < 300_000, "{api:?} fails too often");
        }
        assert_eq!(Api::find("ec2.amazonaws.com", "NoSuchCall"), None);
    }

    #[test]
    fn lambda_uses_aws_versioned_event_names() {
        assert_eq!(Api::ListFunctions.info().name, "ListFunctions20150331");
        assert_eq!(Api::GetFunction.info().name, "GetFunction20150331v2");
        assert_eq!(Api::CreateFunction.info().name, "CreateFunction20150331");
        assert_eq!(
            Api::UpdateFunctionCode.info().name,
            "UpdateFunctionCode20150331v2"
        );
    }

    #[test]
    fn access_denied_uses_the_aws_sentence() {
        let mut rng = <ChaCha8Rng as rand::SeedableRng>::seed_from_u64(1);
        let s = ErrorSubject {
            service: Some(Service::S3),
            prefix: "s3",
            action: "GetObject",
            caller_arn: "arn:aws:sts::123456789012:assumed-role/ReadOnly/alice",
            target_arn: "arn:aws:s3:::b/k",
            target_name: "k",
        };
        assert_eq!(
            error_message("AccessDenied", &s, &mut rng),
            "User: arn:aws:sts::123456789012:assumed-role/ReadOnly/alice is not authorized to perform: s3:GetObject on resource: arn:aws:s3:::b/k because no identity-based policy allows the s3:GetObject action"
        );
        assert!(
            error_message("Client.UnauthorizedOperation", &s, &mut rng)
                .starts_with("You are not authorized to perform this operation. User: ")
        );
    }

    #[test]
    fn url_encoding_matches_iam() {
        assert_eq!(url_encode(r#"{"a":1}"#), "%7B%22a%22%3A1%7D");
    }
}
