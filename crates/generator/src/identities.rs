//! The simulated organisation: one account with its people, roles, workloads and the
//! resources they touch, and the *actors* (a principal using one kind of credential from one
//! kind of client) that make its events.
//!
//! Everything here is drawn once from the seed when the generator is built, so ids and names
//! stay the same for the whole life of a workload.

use opentrail_model::{SessionAttributes, SessionContext, SessionIssuer, UserIdentity};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use crate::agents::{self, Agent};
use crate::ids;

/// The organisation's management account, from which `OrganizationAccountAccessRole` is
/// assumed.
pub(crate) const MANAGEMENT_ACCOUNT: &str = "111122223333";
/// The company name in bucket names and emails.
const COMPANY: &str = "acme";

/// What a human user does, which decides their roles and API mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Application engineer: reads a lot, starts and stops things.
    Engineer,
    /// Platform engineer: may assume DevOps.
    DevOps,
    /// Account administrator: may assume Admin.
    Admin,
    /// Business analyst: console only, read-only.
    Analyst,
    /// Data engineer: Boto3 scripts against S3 and DynamoDB.
    Data,
    /// A non-human user with long-term keys.
    Automation,
}

struct UserSpec {
    name: &'static str,
    kind: Kind,
    console: bool,
    mfa: bool,
    keys: bool,
    mac: bool,
}

const fn u(
    name: &'static str,
    kind: Kind,
    console: bool,
    mfa: bool,
    keys: bool,
    mac: bool,
) -> UserSpec {
    UserSpec {
        name,
        kind,
        console,
        mfa,
        keys,
        mac,
    }
}

const USERS: [UserSpec; 20] = [
    u("alice.nguyen", Kind::DevOps, true, true, true, true),
    u("bob.martin", Kind::Engineer, false, false, true, false),
    u("carol.smith", Kind::Admin, true, true, true, true),
    u("david.kim", Kind::Engineer, true, false, true, false),
    u("emma.garcia", Kind::Data, false, false, true, true),
    u("farid.haddad", Kind::DevOps, true, true, true, false),
    u("grace.liu", Kind::Admin, true, true, true, true),
    u("hannah.schmidt", Kind::Analyst, true, true, false, false),
    u("ivan.petrov", Kind::Engineer, false, false, true, false),
    u("julia.rossi", Kind::Engineer, true, true, true, true),
    u("kenji.tanaka", Kind::DevOps, true, true, true, false),
    u("laura.fischer", Kind::Analyst, true, false, false, false),
    u("marcus.johnson", Kind::Engineer, false, false, true, true),
    u("nadia.ali", Kind::Data, true, true, true, false),
    u("oliver.brown", Kind::Admin, true, true, true, true),
    u("priya.patel", Kind::Engineer, true, true, true, true),
    u("quentin.dubois", Kind::Engineer, false, false, true, false),
    u("rosa.martinez", Kind::Analyst, true, true, false, false),
    u("ci-deploy", Kind::Automation, false, false, true, false),
    u(
        "monitoring-exporter",
        Kind::Automation,
        false,
        false,
        true,
        false,
    ),
];

/// Users who sign in through the company's Okta SAML federation.
const SAML_USERS: [&str; 4] = [
    "alice.nguyen",
    "julia.rossi",
    "priya.patel",
    "quentin.dubois",
];

/// Role indices in [`Organisation::roles`].
pub(crate) const ADMIN: usize = 0;
/// The read-only role (its sessions are denied writes).
pub(crate) const READ_ONLY: usize = 1;
/// The platform team's role, also used by CI.
pub(crate) const DEVOPS: usize = 2;
/// The role the management account uses to administer this account.
pub(crate) const ORG_ACCESS: usize = 3;
/// Execution role of the order-processing functions.
pub(crate) const ORDER_LAMBDA: usize = 4;
/// Execution role of the image resizer.
pub(crate) const IMAGE_LAMBDA: usize = 5;
/// Execution role of the nightly report.
pub(crate) const REPORT_LAMBDA: usize = 6;
/// Instance profile role of the web fleet.
pub(crate) const WEB_EC2: usize = 7;
/// The SAML-federated developer role.
pub(crate) const OKTA_DEV: usize = 8;

const ROLE_NAMES: [&str; 9] = [
    "Admin",
    "ReadOnly",
    "DevOps",
    "OrganizationAccountAccessRole",
    "order-processor-role",
    "image-resizer-role",
    "report-generator-role",
    "web-app-ec2-role",
    "okta-Developer",
];

/// An IAM user.
#[derive(Debug, Clone)]
pub(crate) struct User {
    /// The user name.
    pub name: &'static str,
    /// `AIDA...`.
    pub principal_id: String,
    /// `arn:aws:iam::{acct}:user/{name}`.
    pub arn: String,
    /// The user's long-term `AKIA...` key, when they have one.
    pub access_key: Option<String>,
    /// Whether the user has an MFA device.
    pub mfa: bool,
    /// Where the user calls from; repeats weight the choice (office most, then VPN, home).
    pub ips: Vec<String>,
}

/// An IAM role.
#[derive(Debug, Clone)]
pub(crate) struct Role {
    /// The role name.
    pub name: &'static str,
    /// `AROA...`.
    pub id: String,
    /// `arn:aws:iam::{acct}:role/{name}`.
    pub arn: String,
}

/// An EC2 instance.
#[derive(Debug, Clone)]
pub(crate) struct Instance {
    /// `i-...`.
    pub id: String,
    /// e.g. `t3.medium`.
    pub instance_type: &'static str,
    /// `ami-...`.
    pub ami: String,
    /// e.g. `us-east-1b`.
    pub az: String,
    /// e.g. `10.0.1.23`.
    pub private_ip: String,
    /// `subnet-...`.
    pub subnet: String,
    /// Whether it runs with the web fleet's instance profile.
    pub has_role: bool,
}

/// A Lambda function.
#[derive(Debug, Clone)]
pub(crate) struct Function {
    /// The function name.
    pub name: &'static str,
    /// Its ARN.
    pub arn: String,
    /// e.g. `python3.12`.
    pub runtime: &'static str,
    /// Index of its execution role.
    pub role: usize,
    /// e.g. `app.handler`.
    pub handler: &'static str,
    /// Memory in MB.
    pub memory: u32,
}

/// A DynamoDB table.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    /// The table name.
    pub name: &'static str,
    /// Its ARN.
    pub arn: String,
    /// Partition key attribute.
    pub hash_key: &'static str,
    /// Sort key attribute, if any.
    pub range_key: Option<&'static str>,
    /// Attributes written by PutItem.
    pub attributes: &'static [&'static str],
    /// A global secondary index queried by applications, if any.
    pub index: Option<(&'static str, &'static str)>,
}

/// A KMS key.
#[derive(Debug, Clone)]
pub(crate) struct Key {
    /// The key id (a UUID).
    pub id: String,
    /// Its ARN.
    pub arn: String,
    /// Its alias, e.g. `alias/app-secrets`.
    pub alias: &'static str,
}

/// What a bucket holds, which decides its object keys and sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Content {
    /// Product images and thumbnails.
    Assets,
    /// Files uploaded by customers.
    Uploads,
    /// Parquet partitions.
    DataLake,
    /// Terraform state.
    TfState,
    /// CloudTrail log files.
    TrailLogs,
    /// Database dumps.
    Backups,
    /// Generated CSV reports.
    Reports,
    /// A static web site.
    Static,
}

/// An S3 bucket.
#[derive(Debug, Clone)]
pub(crate) struct Bucket {
    /// The bucket name.
    pub name: String,
    /// `arn:aws:s3:::{name}`.
    pub arn: String,
    /// Index of its region.
    pub region: usize,
    /// What it holds.
    pub content: Content,
    /// The KMS key ARN of its default SSE-KMS encryption, if not SSE-S3.
    pub kms_key: Option<String>,
}

/// One region's resources.
#[derive(Debug, Clone)]
pub(crate) struct RegionInventory {
    /// e.g. `us-east-1`.
    pub name: String,
    /// EC2 instances.
    pub instances: Vec<Instance>,
    /// Security group ids.
    pub security_groups: Vec<String>,
    /// The VPC id.
    pub vpc: String,
    /// Lambda functions.
    pub functions: Vec<Function>,
    /// DynamoDB tables.
    pub tables: Vec<Table>,
    /// KMS keys.
    pub keys: Vec<Key>,
    /// Indices of the buckets located here.
    pub buckets: Vec<usize>,
    /// The public address of the region's NAT gateway, where workloads call from.
    pub nat_ip: String,
}

/// Which events an actor makes (see [`crate::catalog::profile_table`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Profile {
    /// An engineer at a terminal.
    Cli,
    /// Someone clicking through the console.
    Console,
    /// An administrator managing IAM, keys and buckets.
    Admin,
    /// Terraform in CI.
    Deploy,
    /// A metrics exporter polling inventories.
    Monitor,
    /// Lambda function code.
    LambdaApp,
    /// An application on EC2.
    Ec2App,
    /// A SAML sign-in (`AssumeRoleWithSAML`).
    SamlSignIn,
    /// Another account assuming a role here.
    CrossAccount,
    /// The root user.
    Root,
    /// Lambda assuming function execution roles.
    ServiceAssumeLambda,
    /// EC2 assuming instance-profile roles.
    ServiceAssumeEc2,
    /// CloudTrail encrypting its log files.
    ServiceCloudTrail,
    /// A service invoking Lambda functions (S3 notifications, EventBridge, API Gateway).
    ServiceInvoke,
}

/// The credential kind an actor signs with, which decides the `userIdentity` shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ActorKind {
    /// An IAM user with a long-term `AKIA` key.
    IamUserKey,
    /// An IAM user signed in to the console (temporary `ASIA` credentials).
    IamUserConsole,
    /// An assumed-role session.
    RoleSession,
    /// The root user in the console.
    Root,
    /// An AWS service principal.
    Service,
    /// A SAML-authenticated user (only on `AssumeRoleWithSAML`).
    SamlUser,
    /// A principal of another account (the organisation's management account).
    AwsAccount,
}

/// Rotating temporary credentials: a new `ASIA` key every `period` seconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Session {
    /// Credential lifetime in seconds.
    pub period: i64,
    /// Where this actor's periods start, so that actors do not all rotate at once.
    pub offset: i64,
    /// Distinguishes this actor's keys from every other actor's.
    pub salt: u64,
}

/// One principal using one kind of credential from one client.
#[derive(Debug, Clone)]
pub(crate) struct Actor {
    /// The credential kind.
    pub kind: ActorKind,
    /// Which events it makes.
    pub profile: Profile,
    /// The `userIdentity`, with `accessKeyId` and `creationDate` filled per event.
    pub identity: UserIdentity,
    /// The ARN AWS names in this actor's AccessDenied messages.
    pub arn: String,
    /// User name or role session name.
    pub name: String,
    /// Its temporary credentials, if any.
    pub session: Option<Session>,
    /// Source addresses; repeats weight the choice.
    pub ips: Vec<String>,
    /// Its client.
    pub agent: Agent,
    /// `(tlsVersion, cipherSuite)`; `None` for AWS services, which record no TLS details.
    pub tls: Option<(&'static str, &'static str)>,
    /// A fixed region index (workloads), or `None` to spread calls over the regions.
    pub region: Option<usize>,
    /// Whether its credentials come from the console (`sessionCredentialFromConsole`).
    pub console: bool,
    /// Whether it may sign in (`ConsoleLogin`).
    pub can_sign_in: bool,
    /// Whether writes are denied (ReadOnly sessions).
    pub deny_writes: bool,
    /// Whether its session was MFA-authenticated.
    pub mfa: bool,
    /// Its IAM user, if any.
    pub user: Option<usize>,
    /// Its role, if a session.
    pub role: Option<usize>,
    /// Actors (role sessions) this actor creates with `AssumeRole`/`AssumeRoleWithSAML`.
    pub assume_targets: Vec<usize>,
    /// The service, for AWS service principals.
    pub invoked_by: Option<&'static str>,
    /// Weight among human-driven actors (0: never).
    pub human_weight: u32,
    /// Weight among automation actors (0: never).
    pub auto_weight: u32,
}

impl Actor {
    /// The session period containing `secs`: `(index, start)`.
    pub fn period_at(&self, secs: i64) -> Option<(i64, i64)> {
        let s = self.session?;
        let k = (secs - s.offset).div_euclid(s.period);
        Some((k, s.offset + k * s.period))
    }

    /// The temporary access key in use at `secs`, if the actor has a session.
    pub fn session_key(&self, seed: u64, secs: i64) -> Option<String> {
        let (k, _) = self.period_at(secs)?;
        let salt = self.session.map_or(0, |s| s.salt);
        Some(ids::derived_key("ASIA", &[seed, salt, k as u64]))
    }

    /// The `userIdentity` of a call at `secs`.
    pub fn identity_at(&self, seed: u64, secs: i64) -> UserIdentity {
        let mut id = self.identity.clone();
        if let Some((_, start)) = self.period_at(secs) {
            id.access_key_id = self.session_key(seed, secs);
            if let Some(attrs) = id
                .session_context
                .as_mut()
                .and_then(|c| c.attributes.as_mut())
            {
                attrs.creation_date = Some(crate::timefmt::iso(start));
            }
        }
        id
    }
}

/// The whole simulated account.
#[derive(Debug, Clone)]
pub(crate) struct Organisation {
    /// The workload seed (keys of temporary credentials are derived from it).
    pub seed: u64,
    /// The account id.
    pub account: String,
    /// Regions, the home region first.
    pub regions: Vec<RegionInventory>,
    /// All buckets.
    pub buckets: Vec<Bucket>,
    /// IAM users, in [`USERS`] order.
    pub users: Vec<User>,
    /// IAM roles, in [`ROLE_NAMES`] order.
    pub roles: Vec<Role>,
    /// Everyone who makes events.
    pub actors: Vec<Actor>,
    /// `arn:aws:iam::{acct}:saml-provider/Okta`.
    pub saml_provider: String,
    /// The Okta issuer URL.
    pub saml_issuer: String,
    /// The name qualifier AWS derives for the SAML provider (prefix of SAML principal ids).
    pub saml_qualifier: String,
    /// The account's multi-region trail.
    pub trail_arn: String,
}

impl Organisation {
    /// Draws the organisation for `account` over `regions` (home first) from `rng`.
    pub fn build(seed: u64, account: &str, regions: &[String], rng: &mut ChaCha8Rng) -> Self {
        let regions: Vec<String> = if regions.is_empty() {
            vec!["us-east-1".to_owned()]
        } else {
            regions.to_vec()
        };
        let acct = account.to_owned();
        let users: Vec<User> = USERS
            .iter()
            .enumerate()
            .map(|(i, spec)| User {
                name: spec.name,
                principal_id: ids::base32_id(rng, "AIDA", 21),
                arn: format!("arn:aws:iam::{acct}:user/{}", spec.name),
                access_key: spec.keys.then(|| ids::base32_id(rng, "AKIA", 20)),
                mfa: spec.mfa,
                ips: user_ips(i, spec.kind),
            })
            .collect();
        let roles: Vec<Role> = ROLE_NAMES
            .iter()
            .map(|name| Role {
                name,
                id: ids::base32_id(rng, "AROA", 21),
                arn: format!("arn:aws:iam::{acct}:role/{name}"),
            })
            .collect();
        let mut inventories: Vec<RegionInventory> = regions
            .iter()
            .enumerate()
            .map(|(i, name)| region_inventory(rng, &acct, name, i, i == 0))
            .collect();
        let buckets = buckets(&acct, &mut inventories);
        let saml_qualifier = ids::base64_random(rng, 20);
        let mut org = Organisation {
            seed,
            account: acct.clone(),
            regions: inventories,
            buckets,
            users,
            roles,
            actors: Vec::new(),
            saml_provider: format!("arn:aws:iam::{acct}:saml-provider/Okta"),
            saml_issuer: format!("http://www.okta.com/{}", ids::alphanumeric(rng, 20)),
            saml_qualifier,
            trail_arn: format!(
                "arn:aws:cloudtrail:{}:{acct}:trail/management-events",
                regions[0]
            ),
        };
        org.actors = actors(&org, rng);
        org
    }
}

/// Office NAT addresses (shared), a personal VPN exit, a home address; CI runners and
/// automation get their own.
fn user_ips(i: usize, kind: Kind) -> Vec<String> {
    if kind == Kind::Automation {
        return vec![
            format!("198.51.100.{}", 200 + i),
            format!("198.51.100.{}", 210 + i),
        ];
    }
    let office = format!("203.0.113.{}", 12 + i % 2);
    vec![
        office.clone(),
        office.clone(),
        office,
        format!("198.51.100.{}", 20 + i),
        format!("198.51.100.{}", 20 + i),
        format!("203.0.113.{}", 100 + i),
    ]
}

const INSTANCE_TYPES: [&str; 6] = [
    "t3.medium",
    "t3.large",
    "m6i.large",
    "m6i.xlarge",
    "c6i.2xlarge",
    "r6g.large",
];

fn region_inventory(
    rng: &mut ChaCha8Rng,
    acct: &str,
    name: &str,
    index: usize,
    home: bool,
) -> RegionInventory {
    let subnets: Vec<String> = (0..3).map(|_| ids::ec2_id(rng, "subnet-")).collect();
    let n_instances = if home { 10 } else { 4 };
    let with_role = if home { 4 } else { 1 };
    let instances = (0..n_instances)
        .map(|i| {
            let zone = i % 3;
            Instance {
                id: ids::ec2_id(rng, "i-"),
                instance_type: INSTANCE_TYPES[rng.random_range(0..INSTANCE_TYPES.len())],
                ami: ids::ec2_id(rng, "ami-"),
                az: format!("{name}{}", ['a', 'b', 'c'][zone]),
                private_ip: format!(
                    "10.{}.{}.{}",
                    index.min(255),
                    zone * 16 + 1,
                    rng.random_range(4..250)
                ),
                subnet: subnets[zone].clone(),
                has_role: i < with_role,
            }
        })
        .collect();
    let security_groups = (0..4).map(|_| ids::ec2_id(rng, "sg-")).collect();
    let fn_arn = |f: &str| format!("arn:aws:lambda:{name}:{acct}:function:{f}");
    let function = |f: &'static str, runtime, role, handler, memory| Function {
        name: f,
        arn: fn_arn(f),
        runtime,
        role,
        handler,
        memory,
    };
    let mut functions = vec![
        function(
            "order-processor",
            "python3.12",
            ORDER_LAMBDA,
            "app.handler",
            512,
        ),
        function(
            "api-authorizer",
            "python3.12",
            ORDER_LAMBDA,
            "authorizer.handler",
            256,
        ),
    ];
    if home {
        functions.push(function(
            "image-resizer",
            "nodejs20.x",
            IMAGE_LAMBDA,
            "index.handler",
            1024,
        ));
        functions.push(function(
            "nightly-report",
            "python3.12",
            REPORT_LAMBDA,
            "report.main",
            2048,
        ));
    }
    let table = |t: &'static str, hash, range, attributes, index| Table {
        name: t,
        arn: format!("arn:aws:dynamodb:{name}:{acct}:table/{t}"),
        hash_key: hash,
        range_key: range,
        attributes,
        index,
    };
    let mut tables = vec![
        table(
            "orders",
            "orderId",
            Some("createdAt"),
            &[
                "orderId",
                "createdAt",
                "customerId",
                "status",
                "total",
                "items",
            ][..],
            Some(("customerId-index", "customerId")),
        ),
        table(
            "sessions",
            "sessionId",
            None,
            &["sessionId", "userId", "expiresAt", "data"][..],
            None,
        ),
    ];
    if home {
        tables.push(table(
            "customers",
            "customerId",
            None,
            &["customerId", "email", "name", "tier", "updatedAt"][..],
            Some(("email-index", "email")),
        ));
        tables.push(table(
            "inventory",
            "sku",
            Some("warehouse"),
            &["sku", "warehouse", "quantity", "updatedAt"][..],
            None,
        ));
        tables.push(table(
            "terraform-locks",
            "LockID",
            None,
            &["LockID", "Info", "Digest"][..],
            None,
        ));
    }
    let mut key = |alias: &'static str| {
        let id = ids::guid(rng);
        Key {
            arn: format!("arn:aws:kms:{name}:{acct}:key/{id}"),
            id,
            alias,
        }
    };
    let mut keys = vec![
        key("alias/app-secrets"),
        key("alias/s3-data"),
        key("alias/dynamodb-orders"),
    ];
    if home {
        keys.push(key("alias/cloudtrail-logs"));
    }
    RegionInventory {
        name: name.to_owned(),
        instances,
        security_groups,
        vpc: ids::ec2_id(rng, "vpc-"),
        functions,
        tables,
        keys,
        buckets: Vec::new(),
        nat_ip: format!("192.0.2.{}", 10 + index.min(200)),
    }
}

fn buckets(acct: &str, regions: &mut [RegionInventory]) -> Vec<Bucket> {
    let mut out = Vec::new();
    let mut add = |regions: &mut [RegionInventory],
                   name: String,
                   region: usize,
                   content: Content,
                   kms: bool| {
        let kms_key = kms.then(|| regions[region].keys[1].arn.clone());
        regions[region].buckets.push(out.len());
        out.push(Bucket {
            arn: format!("arn:aws:s3:::{name}"),
            name,
            region,
            content,
            kms_key,
        });
    };
    add(
        regions,
        format!("{COMPANY}-prod-assets-{acct}"),
        0,
        Content::Assets,
        false,
    );
    add(
        regions,
        format!("{COMPANY}-user-uploads-{acct}"),
        0,
        Content::Uploads,
        true,
    );
    add(
        regions,
        format!("{COMPANY}-data-lake-{acct}"),
        0,
        Content::DataLake,
        true,
    );
    add(
        regions,
        format!("{COMPANY}-terraform-state-{acct}"),
        0,
        Content::TfState,
        true,
    );
    add(
        regions,
        format!("{COMPANY}-cloudtrail-logs-{acct}"),
        0,
        Content::TrailLogs,
        false,
    );
    add(
        regions,
        format!("{COMPANY}-reports-{acct}"),
        0,
        Content::Reports,
        false,
    );
    for r in 1..regions.len() {
        let name = regions[r].name.clone();
        add(
            regions,
            format!("{COMPANY}-backups-{name}-{acct}"),
            r,
            Content::Backups,
            true,
        );
        add(
            regions,
            format!("{COMPANY}-static-{name}"),
            r,
            Content::Static,
            false,
        );
    }
    if regions.len() == 1 {
        add(
            regions,
            format!("{COMPANY}-backups-{acct}"),
            0,
            Content::Backups,
            true,
        );
    }
    out
}

const TLS13: (&str, &str) = ("TLSv1.3", "TLS_AES_128_GCM_SHA256");
const TLS13_256: (&str, &str) = ("TLSv1.3", "TLS_AES_256_GCM_SHA384");
const TLS12: (&str, &str) = ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256");

const CLI_MAC: Agent = Agent::Cli {
    version: "2.17.12",
    python: "3.11.9",
    platform: "Darwin/23.5.0 exe/x86_64",
};
const CLI_LINUX: Agent = Agent::Cli {
    version: "2.15.30",
    python: "3.11.8",
    platform: "Linux/6.5.0-1016-aws exe/x86_64.ubuntu.22",
};
const BOTO3_MAC: Agent = Agent::Boto3 {
    version: "1.34.84",
    python: "3.12.2",
    platform: "os/macos#23.4.0 md/arch#arm64",
    exec_env: "",
};
const BOTO3_LINUX: Agent = Agent::Boto3 {
    version: "1.34.69",
    python: "3.11.8",
    platform: "os/linux#5.15.0-1057-aws md/arch#x86_64",
    exec_env: "",
};
const BOTO3_LAMBDA: Agent = Agent::Boto3 {
    version: "1.34.84",
    python: "3.12.2",
    platform: "os/linux#5.10.214-202.855.amzn2.x86_64 md/arch#x86_64",
    exec_env: "exec-env/AWS_Lambda_python3.12",
};

/// See the end of the people section of [`actors`].
const HUMAN_SCALE: u32 = 4;

/// Builds every actor. The order is fixed, which keeps the draws from `rng` reproducible.
fn actors(org: &Organisation, rng: &mut ChaCha8Rng) -> Vec<Actor> {
    let acct = org.account.as_str();
    let mut out: Vec<Actor> = Vec::new();
    // Session salts are hashed from the seed and a counter rather than drawn from `rng`, so
    // the ids drawn below do not depend on how many sessions there are.
    let mut salt_counter = 0u64;
    let mut salt = || {
        salt_counter += 1;
        ids::mix64(org.seed ^ salt_counter.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    };
    let base = |kind, profile, identity: UserIdentity, arn: String, name: String| Actor {
        kind,
        profile,
        identity,
        arn,
        name,
        session: None,
        ips: Vec::new(),
        agent: CLI_LINUX,
        tls: Some(TLS13),
        region: None,
        console: false,
        can_sign_in: false,
        deny_writes: false,
        mfa: false,
        user: None,
        role: None,
        assume_targets: Vec::new(),
        invoked_by: None,
        human_weight: 0,
        auto_weight: 0,
    };
    let session = |period: i64, salt: u64| Session {
        period,
        offset: (salt % period as u64) as i64,
        salt,
    };
    let role_session = |role: usize, session_name: &str, mfa: bool| -> Actor {
        let r = &org.roles[role];
        let arn = format!("arn:aws:sts::{acct}:assumed-role/{}/{session_name}", r.name);
        let identity = UserIdentity {
            identity_type: Some("AssumedRole".into()),
            principal_id: Some(format!("{}:{session_name}", r.id)),
            arn: Some(arn.clone()),
            account_id: Some(acct.into()),
            access_key_id: Some(String::new()),
            session_context: Some(SessionContext {
                session_issuer: Some(SessionIssuer {
                    issuer_type: Some("Role".into()),
                    principal_id: Some(r.id.clone()),
                    arn: Some(r.arn.clone()),
                    account_id: Some(acct.into()),
                    user_name: Some(r.name.into()),
                    ..Default::default()
                }),
                web_id_federation_data: Some(json!({})),
                attributes: Some(SessionAttributes {
                    creation_date: Some(String::new()),
                    mfa_authenticated: Some(mfa.to_string()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut a = base(
            ActorKind::RoleSession,
            Profile::Cli,
            identity,
            arn,
            session_name.to_owned(),
        );
        a.role = Some(role);
        a.mfa = mfa;
        a
    };

    // People.
    for (ui, user) in org.users.iter().enumerate() {
        let spec = &USERS[ui];
        let laptop_cli = if spec.mac { CLI_MAC } else { CLI_LINUX };
        let browser = match ui % 3 {
            0 => agents::CHROME_MAC,
            1 => agents::FIREFOX_LINUX,
            _ => agents::EDGE_WINDOWS,
        };
        let tls = if ui % 5 == 3 { TLS12 } else { TLS13 };
        let user_identity = |key: Option<String>| UserIdentity {
            identity_type: Some("IAMUser".into()),
            principal_id: Some(user.principal_id.clone()),
            arn: Some(user.arn.clone()),
            account_id: Some(acct.into()),
            access_key_id: key,
            user_name: Some(user.name.into()),
            ..Default::default()
        };
        let mut key_actor = None;
        if let Some(key) = &user.access_key {
            let mut a = base(
                ActorKind::IamUserKey,
                Profile::Cli,
                user_identity(Some(key.clone())),
                user.arn.clone(),
                user.name.into(),
            );
            a.user = Some(ui);
            a.ips = user.ips.clone();
            a.tls = Some(tls);
            a.agent = laptop_cli;
            match spec.kind {
                Kind::Engineer | Kind::DevOps => a.human_weight = 30,
                Kind::Data => {
                    a.agent = if spec.mac { BOTO3_MAC } else { BOTO3_LINUX };
                    a.human_weight = 40;
                }
                Kind::Admin => a.human_weight = 10,
                Kind::Analyst => a.human_weight = 0,
                Kind::Automation if user.name == "ci-deploy" => {
                    a.profile = Profile::Deploy;
                    a.agent = Agent::Terraform;
                    a.human_weight = 30;
                    a.auto_weight = 12;
                }
                Kind::Automation => {
                    a.profile = Profile::Monitor;
                    a.agent = BOTO3_LINUX;
                    a.ips = vec![org.regions[0].nat_ip.clone()];
                    a.auto_weight = 25;
                }
            }
            key_actor = Some(out.len());
            out.push(a);
        }
        if spec.console {
            let mut identity = user_identity(Some(String::new()));
            identity.session_context = Some(SessionContext {
                session_issuer: Some(SessionIssuer::default()),
                web_id_federation_data: Some(json!({})),
                attributes: Some(SessionAttributes {
                    creation_date: Some(String::new()),
                    mfa_authenticated: Some(spec.mfa.to_string()),
                    ..Default::default()
                }),
                ..Default::default()
            });
            let mut a = base(
                ActorKind::IamUserConsole,
                Profile::Console,
                identity,
                user.arn.clone(),
                user.name.into(),
            );
            a.session = Some(session(12 * 3600, salt()));
            a.user = Some(ui);
            a.ips = user.ips.clone();
            a.agent = Agent::Console { browser };
            a.console = true;
            a.can_sign_in = true;
            a.mfa = spec.mfa;
            a.human_weight = if spec.kind == Kind::Analyst { 40 } else { 20 };
            if spec.kind == Kind::Admin {
                a.profile = Profile::Admin;
                a.human_weight = 10;
            }
            out.push(a);
        }
        // Role sessions this user creates.
        let mut targets = Vec::new();
        let mut push_session =
            |out: &mut Vec<Actor>, role: usize, profile, console: bool, weight: u32| {
                let mut a = role_session(role, user.name, spec.mfa && role != READ_ONLY);
                a.profile = profile;
                a.user = Some(ui);
                a.ips = user.ips.clone();
                a.tls = Some(tls);
                a.deny_writes = role == READ_ONLY;
                a.human_weight = weight;
                if console {
                    a.console = true;
                    a.agent = Agent::Console { browser };
                    a.session = Some(session(12 * 3600, salt()));
                } else {
                    a.agent = laptop_cli;
                    a.session = Some(session(3600, salt()));
                }
                out.push(a);
                out.len() - 1
            };
        match spec.kind {
            Kind::DevOps => targets.push(push_session(&mut out, DEVOPS, Profile::Cli, false, 30)),
            Kind::Admin => {
                targets.push(push_session(&mut out, ADMIN, Profile::Admin, false, 25));
                push_session(&mut out, ADMIN, Profile::Admin, true, 8);
            }
            Kind::Engineer => {
                targets.push(push_session(&mut out, READ_ONLY, Profile::Cli, false, 8))
            }
            Kind::Analyst => {
                push_session(&mut out, READ_ONLY, Profile::Console, true, 15);
            }
            Kind::Data | Kind::Automation => {}
        }
        if user.name == "ci-deploy" {
            let mut a = role_session(DEVOPS, "terraform-ci", false);
            a.profile = Profile::Deploy;
            a.agent = Agent::Terraform;
            a.user = Some(ui);
            a.ips = user.ips.clone();
            a.session = Some(session(3600, salt()));
            a.human_weight = 30;
            a.auto_weight = 12;
            out.push(a);
            targets.push(out.len() - 1);
        }
        if let Some(k) = key_actor {
            out[k].assume_targets = targets;
        }
        if SAML_USERS.contains(&user.name) {
            let session_name = format!("{}@{COMPANY}.example.com", user.name);
            let mut a = role_session(OKTA_DEV, &session_name, false);
            a.profile = Profile::Console;
            a.user = Some(ui);
            a.ips = user.ips.clone();
            a.agent = Agent::Console { browser };
            a.console = true;
            a.can_sign_in = true;
            a.session = Some(session(12 * 3600, salt()));
            a.human_weight = 20;
            out.push(a);
            let saml_target = out.len() - 1;
            let identity = UserIdentity {
                identity_type: Some("SAMLUser".into()),
                principal_id: Some(format!("{}:{session_name}", org.saml_qualifier)),
                user_name: Some(session_name.clone()),
                identity_provider: Some(ids::base64_random(rng, 20)),
                ..Default::default()
            };
            let mut s = base(
                ActorKind::SamlUser,
                Profile::SamlSignIn,
                identity,
                String::new(),
                session_name,
            );
            s.user = Some(ui);
            s.ips = user.ips.clone();
            s.agent = Agent::Console { browser };
            s.assume_targets = vec![saml_target];
            s.human_weight = 2;
            out.push(s);
        }
    }

    // The management account administering this one.
    let mut a = role_session(ORG_ACCESS, "platform-admin", true);
    a.profile = Profile::Admin;
    a.ips = vec!["203.0.113.12".into(), "198.51.100.5".into()];
    a.session = Some(session(3600, salt()));
    a.human_weight = 6;
    out.push(a);
    let org_access_session = out.len() - 1;
    // ...and the AssumeRole that starts that session, made from the management account.
    let caller_role = ids::base32_id(rng, "AROA", 21);
    let identity = UserIdentity {
        identity_type: Some("AWSAccount".into()),
        principal_id: Some(format!("{caller_role}:platform-admin")),
        account_id: Some(MANAGEMENT_ACCOUNT.into()),
        ..Default::default()
    };
    let mut a = base(
        ActorKind::AwsAccount,
        Profile::CrossAccount,
        identity,
        format!(
            "arn:aws:sts::{MANAGEMENT_ACCOUNT}:assumed-role/AWSReservedSSO_AdministratorAccess/platform-admin"
        ),
        "platform-admin".into(),
    );
    a.ips = vec!["203.0.113.12".into(), "198.51.100.5".into()];
    a.assume_targets = vec![org_access_session];
    a.human_weight = 2;
    out.push(a);

    // The root user: rare, always in the console with MFA.
    let root_identity = UserIdentity {
        identity_type: Some("Root".into()),
        principal_id: Some(acct.into()),
        arn: Some(format!("arn:aws:iam::{acct}:root")),
        account_id: Some(acct.into()),
        access_key_id: Some(String::new()),
        session_context: Some(SessionContext {
            session_issuer: Some(SessionIssuer::default()),
            web_id_federation_data: Some(json!({})),
            attributes: Some(SessionAttributes {
                creation_date: Some(String::new()),
                mfa_authenticated: Some("true".into()),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut a = base(
        ActorKind::Root,
        Profile::Root,
        root_identity,
        format!("arn:aws:iam::{acct}:root"),
        "root".into(),
    );
    a.ips = vec!["203.0.113.12".into()];
    a.agent = Agent::Console {
        browser: agents::CHROME_MAC,
    };
    a.console = true;
    a.can_sign_in = true;
    a.mfa = true;
    a.session = Some(session(3600, salt()));
    a.human_weight = 4;
    out.push(a);

    // The weights above are per person and credential; the rarest actors (root, SAML sign-ins,
    // the management account) are given directly in units of a quarter of the others.
    for a in &mut out {
        if !matches!(
            a.kind,
            ActorKind::Root | ActorKind::SamlUser | ActorKind::AwsAccount
        ) {
            a.human_weight *= HUMAN_SCALE;
        }
    }

    // Workloads.
    let mut lambda_sessions = Vec::new();
    let mut ec2_sessions = Vec::new();
    for (ri, region) in org.regions.iter().enumerate() {
        let home = ri == 0;
        for f in &region.functions {
            let mut a = role_session(f.role, f.name, false);
            a.profile = Profile::LambdaApp;
            a.agent = if f.runtime.starts_with("nodejs") {
                Agent::NodeLambda
            } else {
                BOTO3_LAMBDA
            };
            a.tls = Some(if f.runtime.starts_with("nodejs") {
                TLS13_256
            } else {
                TLS13
            });
            a.ips = vec![region.nat_ip.clone()];
            a.region = Some(ri);
            a.session = Some(session(6 * 3600, salt()));
            let w = match f.name {
                "order-processor" => 60,
                "api-authorizer" => 40,
                "image-resizer" => 35,
                _ => 10,
            };
            a.auto_weight = if home { w } else { w / 4 };
            out.push(a);
            lambda_sessions.push(out.len() - 1);
        }
        for inst in region.instances.iter().filter(|i| i.has_role) {
            let mut a = role_session(WEB_EC2, &inst.id, false);
            if let Some(ctx) = a.identity.session_context.as_mut() {
                ctx.ec2_role_delivery = Some("2.0".into());
            }
            a.profile = Profile::Ec2App;
            a.agent = Agent::GoSdk;
            a.ips = vec![region.nat_ip.clone()];
            a.region = Some(ri);
            a.session = Some(session(6 * 3600, salt()));
            a.auto_weight = if home { 25 } else { 10 };
            out.push(a);
            ec2_sessions.push(out.len() - 1);
        }
    }

    // AWS services acting in the account.
    for (service, profile, weight) in [
        ("lambda.amazonaws.com", Profile::ServiceAssumeLambda, 20),
        ("ec2.amazonaws.com", Profile::ServiceAssumeEc2, 4),
        ("cloudtrail.amazonaws.com", Profile::ServiceCloudTrail, 12),
        ("s3.amazonaws.com", Profile::ServiceInvoke, 10),
        ("events.amazonaws.com", Profile::ServiceInvoke, 5),
        ("apigateway.amazonaws.com", Profile::ServiceInvoke, 15),
    ] {
        let identity = UserIdentity {
            identity_type: Some("AWSService".into()),
            invoked_by: Some(service.into()),
            ..Default::default()
        };
        let mut a = base(
            ActorKind::Service,
            profile,
            identity,
            String::new(),
            service.into(),
        );
        a.agent = Agent::Service(service);
        a.tls = None;
        a.ips = vec![service.into()];
        a.invoked_by = Some(service);
        a.auto_weight = weight;
        a.assume_targets = match profile {
            Profile::ServiceAssumeLambda => lambda_sessions.clone(),
            Profile::ServiceAssumeEc2 => ec2_sessions.clone(),
            _ => Vec::new(),
        };
        out.push(a);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn org() -> Organisation {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let regions = ["us-east-1", "us-west-2", "eu-west-1"].map(String::from);
        Organisation::build(7, "123456789012", &regions, &mut rng)
    }

    #[test]
    fn the_organisation_has_the_expected_people_and_roles() {
        let org = org();
        assert_eq!(org.users.len(), 20);
        assert_eq!(org.roles.len(), 9);
        assert!(
            org.users
                .iter()
                .any(|u| u.name == "ci-deploy" && u.access_key.is_some())
        );
        for u in &org.users {
            assert_eq!(u.principal_id.len(), 21);
            assert!(u.principal_id.starts_with("AIDA"));
            if let Some(k) = &u.access_key {
                assert!(k.starts_with("AKIA") && k.len() == 20);
            }
        }
        for r in &org.roles {
            assert!(r.id.starts_with("AROA") && r.id.len() == 21);
        }
        for region in &org.regions {
            assert!(!region.instances.is_empty() && !region.functions.is_empty());
            assert!(
                !region.tables.is_empty() && !region.keys.is_empty() && !region.buckets.is_empty()
            );
        }
    }

    #[test]
    fn session_keys_rotate_by_period_and_stay_stable_within_it() {
        let org = org();
        let a = org
            .actors
            .iter()
            .find(|a| {
                a.kind == ActorKind::RoleSession && a.session.is_some_and(|s| s.period == 3600)
            })
            .expect("an hourly session");
        let (_, start) = a.period_at(1_800_000_000).expect("period");
        let k1 = a.session_key(7, start);
        assert_eq!(k1, a.session_key(7, start + 3599));
        assert_ne!(k1, a.session_key(7, start + 3600));
        let id = a.identity_at(7, start + 10);
        let created = id
            .session_context
            .and_then(|c| c.attributes)
            .and_then(|at| at.creation_date)
            .expect("creation date");
        assert_eq!(created, crate::timefmt::iso(start));
        assert!(
            id.access_key_id
                .is_some_and(|k| k.starts_with("ASIA") && k.len() == 20)
        );
    }

    #[test]
    fn every_identity_type_has_an_actor() {
        let org = org();
        for kind in [
            ActorKind::IamUserKey,
            ActorKind::IamUserConsole,
            ActorKind::RoleSession,
            ActorKind::Root,
            ActorKind::Service,
            ActorKind::SamlUser,
            ActorKind::AwsAccount,
        ] {
            assert!(org.actors.iter().any(|a| a.kind == kind), "{kind:?}");
        }
        assert!(
            org.actors
                .iter()
                .all(|a| a.human_weight + a.auto_weight > 0)
        );
    }
}
