//! The trail operations of the CloudTrail API, as domain calls: every rule and error of spec
//! 2.3, with the configuration kept in the catalog and delivery told of every change.

use std::sync::Arc;

use opentrail_catalog::{Catalog, Key, Tag, Tx};
use opentrail_journal::Journal;
use opentrail_model::arn;
use opentrail_model::selectors::{self, SelectorOwner, Selectors};
use opentrail_store::bucket_name_problem;

use crate::TrailError;
use crate::config::{InsightSelector, Organization, TrailConfig, TrailStatus};
use crate::delivery::Delivery;
use crate::validate::{
    sns_topic_name, validate_cloudwatch, validate_kms_key_id, validate_prefix, validate_trail_name,
};
use opentrail_store::policy::bucket_policy_allows_cloudtrail;

const KIND: &str = "trail";
const MAX_TRAILS: usize = 5;
const MAX_TAGS: usize = 50;

/// CreateTrail's parameters.
#[derive(Debug, Clone, Default)]
pub struct CreateTrail {
    /// `Name`.
    pub name: String,
    /// `S3BucketName`.
    pub s3_bucket: String,
    /// `S3KeyPrefix`.
    pub s3_key_prefix: Option<String>,
    /// `SnsTopicName` (name or ARN).
    pub sns_topic_name: Option<String>,
    /// `IncludeGlobalServiceEvents` (default true).
    pub include_global_service_events: Option<bool>,
    /// `IsMultiRegionTrail` (default false).
    pub is_multi_region: Option<bool>,
    /// `EnableLogFileValidation` (default false).
    pub enable_log_file_validation: Option<bool>,
    /// `CloudWatchLogsLogGroupArn`.
    pub cloudwatch_logs_log_group_arn: Option<String>,
    /// `CloudWatchLogsRoleArn`.
    pub cloudwatch_logs_role_arn: Option<String>,
    /// `KmsKeyId`.
    pub kms_key_id: Option<String>,
    /// `IsOrganizationTrail` (default false).
    pub is_organization: Option<bool>,
    /// `RecursiveLogging` (default true).
    pub recursive_logging: Option<bool>,
    /// `TagsList`.
    pub tags: Vec<Tag>,
}

/// UpdateTrail's parameters: `name` identifies the trail; every other field changes only when
/// given.
pub type UpdateTrail = CreateTrail;

/// The trail service.
pub struct TrailService {
    catalog: Arc<Catalog>,
    delivery: Arc<Delivery>,
    journal: Journal,
    organization: Option<Organization>,
    kms: Arc<opentrail_kms::Registry>,
}

fn now_secs() -> f64 {
    chrono::Utc::now().timestamp_millis() as f64 / 1000.0
}

/// Checks a tag list against AWS's rules.
pub fn validate_tags(tags: &[Tag]) -> Result<(), TrailError> {
    opentrail_catalog::check_tags(tags).map_err(TrailError::InvalidTagParameter)
}

impl TrailService {
    /// A service over `catalog`, telling `delivery` of every change.
    pub fn new(
        catalog: Arc<Catalog>,
        delivery: Arc<Delivery>,
        journal: Journal,
        organization: Option<Organization>,
        kms: Arc<opentrail_kms::Registry>,
    ) -> Self {
        TrailService {
            catalog,
            delivery,
            journal,
            organization,
            kms,
        }
    }

    /// The delivery engine.
    pub fn delivery(&self) -> &Arc<Delivery> {
        &self.delivery
    }

    /// The catalog.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    fn not_found(account: &str, region: &str, name: &str) -> TrailError {
        let arn = if name.starts_with("arn:") {
            name.to_owned()
        } else {
            arn::trail(region, account, name)
        };
        TrailError::NotFound {
            arn,
            account: account.to_owned(),
        }
    }

    /// Finds the trail `name_or_arn` as seen from `region`. `home_only` operations must be
    /// called in the trail's home region.
    fn resolve(
        &self,
        tx: &Tx<'_>,
        account: &str,
        region: &str,
        name_or_arn: &str,
        home_only: bool,
    ) -> Result<TrailConfig, TrailError> {
        let found: Option<TrailConfig> = if let Some(rest) = name_or_arn.strip_prefix("arn:") {
            let parts: Vec<&str> = rest.splitn(5, ':').collect();
            let valid = parts.len() == 5
                && parts[1] == "cloudtrail"
                && parts[4].starts_with("trail/")
                && parts[4].len() > 6;
            if !valid {
                return Err(TrailError::ArnInvalid(format!(
                    "{name_or_arn} is not a valid trail ARN: expected arn:aws:cloudtrail:<region>:<account>:trail/<name>."
                )));
            }
            if parts[3] != account {
                return Err(Self::not_found(account, region, name_or_arn));
            }
            let t: Option<TrailConfig> = tx.get(name_or_arn)?;
            if let Some(t) = &t
                && t.home_region != region
                && !home_only
                && !t.is_multi_region
            {
                return Err(TrailError::ArnInvalid(format!(
                    "Region in ARN is wrong, you can only access resources in region {region}."
                )));
            }
            t
        } else {
            validate_trail_name(name_or_arn)?;
            match tx.get::<TrailConfig>(&arn::trail(region, account, name_or_arn))? {
                Some(t) => Some(t),
                // A multi-region trail's shadow copy is known here by its name too.
                None => tx
                    .list::<TrailConfig>(KIND, account, None)?
                    .into_iter()
                    .find(|t| t.name == name_or_arn && t.is_multi_region),
            }
        };
        let t = found.ok_or_else(|| Self::not_found(account, region, name_or_arn))?;
        if home_only && t.home_region != region {
            return Err(TrailError::InvalidHomeRegion(t.home_region));
        }
        Ok(t)
    }

    async fn check_bucket(
        &self,
        bucket: &str,
        prefix: Option<&str>,
        account: &str,
        is_org: bool,
    ) -> Result<(), TrailError> {
        if let Some(problem) = bucket_name_problem(bucket) {
            return Err(TrailError::InvalidBucketName(format!(
                "Bucket name {bucket:?} is not valid: it {problem}."
            )));
        }
        let info = self
            .delivery
            .storage()
            .bucket(bucket)
            .await?
            .ok_or_else(|| TrailError::BucketDoesNotExist(bucket.to_owned()))?;
        if let Some(policy) = &info.policy {
            let mut accounts = vec![account.to_owned()];
            if is_org && let Some(o) = &self.organization {
                accounts.push(o.id.clone());
            }
            if !bucket_policy_allows_cloudtrail(policy, bucket, prefix, &accounts) {
                return Err(TrailError::InsufficientBucketPolicy(bucket.to_owned()));
            }
        }
        Ok(())
    }

    fn check_topic(
        &self,
        topic: &str,
        region: &str,
        account: &str,
    ) -> Result<(String, String), TrailError> {
        let name = sns_topic_name(topic)?;
        if !self.delivery.notifier().has_topic(&name) {
            return Err(TrailError::InsufficientSnsTopicPolicy(format!(
                "SNS topic {name} does not exist or does not let CloudTrail publish: declare it under [[sns_topics]] in the configuration."
            )));
        }
        Ok((
            name.clone(),
            format!("arn:aws:sns:{region}:{account}:{name}"),
        ))
    }

    fn check_organization(&self, account: &str) -> Result<(), TrailError> {
        match &self.organization {
            None => Err(TrailError::OrganizationsNotInUse),
            Some(o) if o.management_account != account => {
                Err(TrailError::NotOrganizationMasterAccount(account.to_owned()))
            }
            Some(_) => Ok(()),
        }
    }

    /// Applies `req`'s optional settings to `t`, checking each (shared by create and update).
    async fn apply_settings(
        &self,
        t: &mut TrailConfig,
        req: &CreateTrail,
        region: &str,
    ) -> Result<(), TrailError> {
        if let Some(p) = &req.s3_key_prefix {
            validate_prefix(p)?;
            t.s3_key_prefix = (!p.is_empty()).then(|| p.trim_end_matches('/').to_owned());
        }
        if let Some(v) = req.include_global_service_events {
            t.include_global_service_events = v;
        }
        if let Some(v) = req.is_multi_region {
            t.is_multi_region = v;
        }
        if t.is_multi_region && !t.include_global_service_events {
            return Err(TrailError::InvalidParameterCombination(
                "Multi-Region trail must include global service events.".into(),
            ));
        }
        if let Some(v) = req.enable_log_file_validation {
            t.log_file_validation = v;
        }
        if let Some(v) = req.recursive_logging {
            t.recursive_logging = v;
        }
        if let Some(v) = req.is_organization {
            if v {
                self.check_organization(&t.account)?;
            }
            t.is_organization = v;
        }
        if req.cloudwatch_logs_log_group_arn.is_some() || req.cloudwatch_logs_role_arn.is_some() {
            validate_cloudwatch(
                req.cloudwatch_logs_log_group_arn.as_deref(),
                req.cloudwatch_logs_role_arn.as_deref(),
            )?;
        }
        if let Some(topic) = &req.sns_topic_name {
            if topic.is_empty() {
                t.sns_topic_name = None;
                t.sns_topic_arn = None;
            } else {
                let (name, arn) = self.check_topic(topic, region, &t.account)?;
                t.sns_topic_name = Some(name);
                t.sns_topic_arn = Some(arn);
            }
        }
        if let Some(k) = &req.kms_key_id {
            t.kms_key_id = if k.is_empty() {
                None
            } else {
                Some(self.usable_kms_key(k, region, &t.account)?)
            };
        }
        if !req.s3_bucket.is_empty() {
            t.s3_bucket = req.s3_bucket.clone();
        }
        self.check_bucket(
            &t.s3_bucket,
            t.s3_key_prefix.as_deref(),
            &t.account,
            t.is_organization,
        )
        .await
    }

    /// The full ARN of the enabled registry key `id` names (key or alias, id or ARN).
    fn usable_kms_key(&self, id: &str, region: &str, account: &str) -> Result<String, TrailError> {
        let arn = validate_kms_key_id(id, region, account)?;
        match self.kms.describe(region, &arn) {
            Ok(m) if m.enabled => Ok(m.arn),
            Ok(m) => Err(TrailError::Kms(format!(
                "KMS key {} is disabled; enable it (aws kms enable-key) or name another key.",
                m.arn
            ))),
            Err(opentrail_kms::KmsError::NotFound(_)) => Err(TrailError::KmsKeyNotFound(format!(
                "KMS key {arn} does not exist in {region}; create it with aws kms create-key."
            ))),
            Err(e) => Err(TrailError::Kms(format!("KMS key {arn}: {e}"))),
        }
    }

    /// CreateTrail. A new trail does not log until StartLogging.
    pub async fn create(
        &self,
        account: &str,
        region: &str,
        req: CreateTrail,
    ) -> Result<TrailConfig, TrailError> {
        validate_trail_name(&req.name)?;
        validate_tags(&req.tags)?;
        if req.tags.len() > MAX_TAGS {
            return Err(TrailError::TagsLimitExceeded(format!(
                "A trail can have at most {MAX_TAGS} tags; {} were given.",
                req.tags.len()
            )));
        }
        let arn = arn::trail(region, account, &req.name);
        let mut t = TrailConfig::new(
            &uuid::Uuid::new_v4().to_string(),
            &req.name,
            account,
            region,
            &req.s3_bucket,
        );
        t.created_lsn = self.journal.durable_lsn();
        self.catalog.read(|tx| {
            if tx.get::<TrailConfig>(&arn)?.is_some() {
                return Ok(Err(TrailError::AlreadyExists {
                    name: req.name.clone(),
                    account: account.to_owned(),
                }));
            }
            let visible = tx
                .list::<TrailConfig>(KIND, account, None)?
                .into_iter()
                .filter(|x| x.home_region == region || x.is_multi_region)
                .count();
            if visible >= MAX_TRAILS {
                return Ok(Err(TrailError::MaxTrails {
                    account: account.to_owned(),
                    region: region.to_owned(),
                }));
            }
            Ok(Ok(()))
        })??;
        self.apply_settings(&mut t, &req, region).await?;
        self.catalog.transaction(|tx| {
            // Checked again inside the write transaction: two concurrent creates cannot both win.
            if tx.get::<TrailConfig>(&arn)?.is_some() {
                return Err(TrailError::AlreadyExists {
                    name: req.name.clone(),
                    account: account.to_owned(),
                });
            }
            let key = Key {
                kind: KIND,
                arn: &arn,
                account,
                region,
                name: &t.name,
            };
            tx.put(&key, &t)?;
            tx.add_tags(&arn, &req.tags)?;
            Ok(())
        })?;
        self.delivery.upsert(t.clone());
        Ok(t)
    }

    fn store(&self, t: &TrailConfig) -> Result<(), TrailError> {
        self.catalog.transaction(|tx| {
            let key = Key {
                kind: KIND,
                arn: &t.arn,
                account: &t.account,
                region: &t.home_region,
                name: &t.name,
            };
            tx.put(&key, t).map_err(TrailError::from)
        })?;
        self.delivery.upsert(t.clone());
        Ok(())
    }

    /// UpdateTrail.
    pub async fn update(
        &self,
        account: &str,
        region: &str,
        req: UpdateTrail,
    ) -> Result<TrailConfig, TrailError> {
        let mut t = self
            .catalog
            .read(|tx| Ok(self.resolve(tx, account, region, &req.name, true)))??;
        self.apply_settings(&mut t, &req, region).await?;
        self.store(&t)?;
        Ok(t)
    }

    /// DeleteTrail (log files stay in the bucket).
    pub async fn delete(&self, account: &str, region: &str, name: &str) -> Result<(), TrailError> {
        let t = self
            .catalog
            .read(|tx| Ok(self.resolve(tx, account, region, name, true)))??;
        self.catalog
            .transaction(|tx| tx.delete(&t.arn).map(|_| ()).map_err(TrailError::from))?;
        self.delivery.remove(&t).await;
        Ok(())
    }

    /// GetTrail.
    pub fn get(&self, account: &str, region: &str, name: &str) -> Result<TrailConfig, TrailError> {
        self.catalog
            .read(|tx| Ok(self.resolve(tx, account, region, name, false)))?
    }

    /// DescribeTrails: the region's trails (and, with `include_shadow`, multi-region trails
    /// homed elsewhere), or those named; unknown names are left out.
    pub fn describe(
        &self,
        account: &str,
        region: &str,
        names: &[String],
        include_shadow: bool,
    ) -> Result<Vec<TrailConfig>, TrailError> {
        let all: Vec<TrailConfig> = self.catalog.read(|tx| tx.list(KIND, account, None))?;
        let visible =
            |t: &TrailConfig| t.home_region == region || (include_shadow && t.is_multi_region);
        if names.is_empty() {
            return Ok(all.into_iter().filter(visible).collect());
        }
        let mut out: Vec<TrailConfig> = Vec::new();
        for n in names {
            let hit = all.iter().find(|t| {
                if n.starts_with("arn:") {
                    t.arn == *n && visible(t)
                } else {
                    t.name == *n && visible(t)
                }
            });
            if let Some(t) = hit
                && !out.iter().any(|o| o.arn == t.arn)
            {
                out.push(t.clone());
            }
        }
        Ok(out)
    }

    /// ListTrails: every trail of the account, in every region.
    pub fn list(&self, account: &str) -> Result<Vec<TrailConfig>, TrailError> {
        Ok(self.catalog.read(|tx| tx.list(KIND, account, None))?)
    }

    /// GetTrailStatus.
    pub fn status(
        &self,
        account: &str,
        region: &str,
        name: &str,
    ) -> Result<(TrailConfig, TrailStatus), TrailError> {
        let t = self.get(account, region, name)?;
        let s = self.delivery.status(&t.arn);
        Ok((t, s))
    }

    /// StartLogging / StopLogging.
    pub fn set_logging(
        &self,
        account: &str,
        region: &str,
        name: &str,
        on: bool,
    ) -> Result<TrailConfig, TrailError> {
        let mut t = self
            .catalog
            .read(|tx| Ok(self.resolve(tx, account, region, name, true)))??;
        if on {
            t.logging = true;
            t.start_logging_time = Some(now_secs());
        } else {
            t.logging = false;
            t.stop_logging_time = Some(now_secs());
        }
        self.store(&t)?;
        Ok(t)
    }

    /// PutEventSelectors: exactly one of basic or advanced selectors.
    pub fn put_event_selectors(
        &self,
        account: &str,
        region: &str,
        name: &str,
        basic: Option<Vec<selectors::EventSelector>>,
        advanced: Option<Vec<selectors::AdvancedEventSelector>>,
    ) -> Result<TrailConfig, TrailError> {
        let sel = match (basic, advanced) {
            (Some(b), None) => {
                selectors::validate_basic(&b)
                    .map_err(|e| TrailError::InvalidEventSelectors(e.0))?;
                Selectors::Basic(b)
            }
            (None, Some(a)) => {
                selectors::validate_advanced(&a, SelectorOwner::Trail)
                    .map_err(|e| TrailError::InvalidEventSelectors(e.0))?;
                Selectors::Advanced(a)
            }
            (Some(_), Some(_)) => {
                return Err(TrailError::InvalidEventSelectors(
                    "Specify either EventSelectors or AdvancedEventSelectors, not both.".into(),
                ));
            }
            (None, None) => {
                return Err(TrailError::InvalidEventSelectors(
                    "Specify EventSelectors or AdvancedEventSelectors.".into(),
                ));
            }
        };
        let mut t = self
            .catalog
            .read(|tx| Ok(self.resolve(tx, account, region, name, true)))??;
        t.selectors = sel;
        self.store(&t)?;
        Ok(t)
    }

    /// PutInsightSelectors on a trail (an empty list turns insights off).
    pub fn put_insight_selectors(
        &self,
        account: &str,
        region: &str,
        name: &str,
        list: Vec<InsightSelector>,
    ) -> Result<TrailConfig, TrailError> {
        let mut t = self
            .catalog
            .read(|tx| Ok(self.resolve(tx, account, region, name, true)))??;
        for s in &list {
            let cats = s
                .event_categories
                .clone()
                .unwrap_or_else(|| vec!["Management".into()]);
            let insight_type = s.insight_type.as_deref().unwrap_or_default();
            if !matches!(insight_type, "ApiCallRateInsight" | "ApiErrorRateInsight") {
                return Err(TrailError::InvalidInsightSelectors(format!(
                    "InsightType {insight_type:?} is not valid; use ApiCallRateInsight or ApiErrorRateInsight."
                )));
            }
            for c in &cats {
                match c.as_str() {
                    "Management" => {
                        let ok = if insight_type == "ApiCallRateInsight" {
                            t.selectors.selects_management(false)
                        } else {
                            t.selectors.selects_management(false)
                                || t.selectors.selects_management(true)
                        };
                        if !ok {
                            return Err(TrailError::InvalidInsightSelectors(format!(
                                "{} on management events needs a trail that logs {}management events.",
                                insight_type,
                                if insight_type == "ApiCallRateInsight" {
                                    "write "
                                } else {
                                    ""
                                }
                            )));
                        }
                    }
                    "Data" => {
                        let logs_data = match &t.selectors {
                            Selectors::Basic(b) => b.iter().any(|x| !x.data_resources.is_empty()),
                            Selectors::Advanced(a) => a.iter().any(|x| {
                                x.field_selectors.iter().any(|f| {
                                    f.field == "eventCategory"
                                        && f.equals.iter().flatten().any(|v| v == "Data")
                                })
                            }),
                        };
                        if !logs_data {
                            return Err(TrailError::InvalidInsightSelectors(format!(
                                "{} on data events needs a trail that logs data events.",
                                insight_type
                            )));
                        }
                    }
                    other => {
                        return Err(TrailError::InvalidInsightSelectors(format!(
                            "EventCategories value {other:?} is not valid; use Management or Data."
                        )));
                    }
                }
            }
        }
        t.insight_selectors = Some(list);
        self.store(&t)?;
        Ok(t)
    }

    /// GetInsightSelectors on a trail.
    pub fn get_insight_selectors(
        &self,
        account: &str,
        region: &str,
        name: &str,
    ) -> Result<TrailConfig, TrailError> {
        let t = self.get(account, region, name)?;
        if t.insight_selectors.as_ref().is_none_or(Vec::is_empty) {
            return Err(TrailError::InsightNotEnabled(t.name));
        }
        Ok(t)
    }

    /// The trail a tag operation names, which must be a trail ARN of this account.
    fn tag_target(
        &self,
        account: &str,
        region: &str,
        resource: &str,
    ) -> Result<TrailConfig, TrailError> {
        if !resource.starts_with("arn:") {
            return Err(TrailError::ArnInvalid(format!(
                "{resource} is not an ARN: tag operations take the resource's ARN."
            )));
        }
        let parts: Vec<&str> = resource.splitn(6, ':').collect();
        if parts.len() != 6 || parts[2] != "cloudtrail" {
            return Err(TrailError::ArnInvalid(format!(
                "{resource} is not a CloudTrail resource ARN."
            )));
        }
        if !parts[5].starts_with("trail/") {
            return Err(TrailError::Unsupported(format!(
                "Tags on {} resources arrive with the capability that owns them; this version tags trails.",
                parts[5].split('/').next().unwrap_or_default()
            )));
        }
        self.catalog
            .read(|tx| Ok(self.resolve(tx, account, region, resource, false)))?
            .map_err(|e| match e {
                TrailError::NotFound { .. } => {
                    TrailError::ResourceNotFound(format!("Resource {resource} does not exist."))
                }
                other => other,
            })
    }

    /// AddTags (existing keys are overwritten; at most 50 tags per resource).
    pub fn add_tags(
        &self,
        account: &str,
        region: &str,
        resource: &str,
        tags: &[Tag],
    ) -> Result<(), TrailError> {
        validate_tags(tags)?;
        let t = self.tag_target(account, region, resource)?;
        if t.home_region != region {
            return Err(TrailError::InvalidHomeRegion(t.home_region));
        }
        self.catalog.transaction(|tx| {
            let mut keys: Vec<String> = tx.tags(&t.arn)?.into_iter().map(|x| x.key).collect();
            keys.extend(tags.iter().map(|x| x.key.clone()));
            keys.sort();
            keys.dedup();
            if keys.len() > MAX_TAGS {
                return Err(TrailError::TagsLimitExceeded(format!(
                    "A resource can have at most {MAX_TAGS} tags; this change would give it {}.",
                    keys.len()
                )));
            }
            tx.add_tags(&t.arn, tags).map_err(TrailError::from)
        })
    }

    /// RemoveTags.
    pub fn remove_tags(
        &self,
        account: &str,
        region: &str,
        resource: &str,
        tags: &[Tag],
    ) -> Result<(), TrailError> {
        validate_tags(tags)?;
        let t = self.tag_target(account, region, resource)?;
        if t.home_region != region {
            return Err(TrailError::InvalidHomeRegion(t.home_region));
        }
        self.catalog
            .transaction(|tx| tx.remove_tags(&t.arn, tags).map_err(TrailError::from))
    }

    /// ListTags for up to 20 resources.
    pub fn list_tags(
        &self,
        account: &str,
        region: &str,
        resources: &[String],
    ) -> Result<Vec<(String, Vec<Tag>)>, TrailError> {
        if resources.len() > 20 {
            return Err(TrailError::InvalidParameterCombination(format!(
                "ListTags takes at most 20 resource ARNs; {} were given.",
                resources.len()
            )));
        }
        let mut out = Vec::new();
        for r in resources {
            let t = self.tag_target(account, region, r)?;
            let tags = self.catalog.read(|tx| tx.tags(&t.arn))?;
            out.push((r.clone(), tags));
        }
        Ok(out)
    }
}
