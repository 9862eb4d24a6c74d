//! User agents: the client software each simulated principal uses, rendered the way each
//! client really announces itself (the AWS CLI names its command, SDKs their service module,
//! the console its own internal clients, AWS services their service name).

use crate::catalog::Service;

/// A browser, for console sign-ins.
pub(crate) const CHROME_MAC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";
/// A browser, for console sign-ins.
pub(crate) const FIREFOX_LINUX: &str =
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0";
/// A browser, for console sign-ins.
pub(crate) const EDGE_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.87";

/// The S3 console's own client, as S3 records it.
const S3_CONSOLE: &str = "[S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.750 Linux/5.10.219-186.866.amzn2int.x86_64 OpenJDK_64-Bit_Server_VM/25.412-b09 java/1.8.0_412 vendor/Oracle_Corporation cfg/retry-mode/standard]";

/// The client software of one principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Agent {
    /// AWS CLI v2 on a laptop or CI box; `platform` is the OS part of its user agent.
    Cli {
        /// e.g. `2.17.12`.
        version: &'static str,
        /// e.g. `3.11.9`.
        python: &'static str,
        /// e.g. `Darwin/23.5.0 exe/x86_64`.
        platform: &'static str,
    },
    /// Boto3 in a script or a Python Lambda function; `platform` holds the `os/`, `md/arch`
    /// and (for Lambda) `exec-env/` parts.
    Boto3 {
        /// e.g. `1.34.84`.
        version: &'static str,
        /// e.g. `3.12.2`.
        python: &'static str,
        /// e.g. `os/linux#5.10.214 md/arch#x86_64`.
        platform: &'static str,
        /// e.g. `exec-env/AWS_Lambda_python3.12`, or empty.
        exec_env: &'static str,
    },
    /// AWS SDK for JavaScript v3 in a Node.js Lambda function.
    NodeLambda,
    /// AWS SDK for Go v2 in an application on EC2.
    GoSdk,
    /// Terraform's AWS provider.
    Terraform,
    /// The AWS Management Console in the given browser.
    Console {
        /// The browser's user agent, used for sign-in events.
        browser: &'static str,
    },
    /// An AWS service acting on its own (`lambda.amazonaws.com`, ...).
    Service(&'static str),
}

impl Agent {
    /// The `userAgent` of a call to `service` (when known) that the CLI would name `cli`.
    pub fn user_agent(self, service: Option<Service>, cli: &str) -> String {
        let ua = match self {
            Agent::Cli {
                version,
                python,
                platform,
            } => format!("aws-cli/{version} Python/{python} {platform} prompt/off command/{cli}"),
            Agent::Boto3 {
                version,
                python,
                platform,
                exec_env,
            } => {
                let sep = if exec_env.is_empty() { "" } else { " " };
                format!(
                    "Boto3/{version} md/Botocore#{version} ua/2.0 {platform} lang/python#{python} md/pyimpl#CPython{sep}{exec_env} cfg/retry-mode#legacy Botocore/{version}"
                )
            }
            Agent::NodeLambda => format!(
                "aws-sdk-js/3.598.0 ua/2.1 os/linux#5.10.219-229.866.amzn2.x86_64 lang/js md/nodejs#20.14.0 api/{}#3.598.0 exec-env/AWS_Lambda_nodejs20.x",
                api_name(service)
            ),
            Agent::GoSdk => format!(
                "aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/{}#{}",
                api_name(service),
                go_module_version(service)
            ),
            Agent::Terraform => format!(
                "APN/1.0 HashiCorp/1.0 Terraform/1.8.5 (+https://www.terraform.io) terraform-provider-aws/5.58.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.30.1 ua/2.0 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/{}#{}",
                api_name(service),
                go_module_version(service)
            ),
            Agent::Console { browser } => {
                return match service {
                    Some(Service::S3) => S3_CONSOLE.to_owned(),
                    Some(Service::Signin) => browser.to_owned(),
                    _ => "AWS Internal".to_owned(),
                };
            }
            Agent::Service(name) => return name.to_owned(),
        };
        // S3 records SDK and CLI user agents in brackets.
        if service == Some(Service::S3) {
            format!("[{ua}]")
        } else {
            ua
        }
    }
}

fn api_name(service: Option<Service>) -> &'static str {
    match service {
        Some(Service::S3) => "s3",
        Some(Service::Ec2) => "ec2",
        Some(Service::Iam) => "iam",
        Some(Service::Sts) => "sts",
        Some(Service::Kms) => "kms",
        Some(Service::Lambda) => "lambda",
        Some(Service::DynamoDb) => "dynamodb",
        Some(Service::Ssm) => "ssm",
        Some(Service::Logs) => "cloudwatchlogs",
        Some(Service::Signin) | None => "unknown",
    }
}

fn go_module_version(service: Option<Service>) -> &'static str {
    match service {
        Some(Service::S3) => "1.58.2",
        Some(Service::Ec2) => "1.168.0",
        Some(Service::Iam) => "1.34.1",
        Some(Service::Sts) => "1.30.3",
        Some(Service::Kms) => "1.35.3",
        Some(Service::Lambda) => "1.56.3",
        Some(Service::DynamoDb) => "1.34.4",
        Some(Service::Ssm) => "1.52.3",
        Some(Service::Logs) => "1.37.3",
        Some(Service::Signin) | None => "1.0.0",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_names_its_command_and_s3_brackets_it() {
        let cli = Agent::Cli {
            version: "2.17.12",
            python: "3.11.9",
            platform: "Linux/6.5.0-1016-aws exe/x86_64.ubuntu.22",
        };
        assert_eq!(
            cli.user_agent(Some(Service::Ec2), "ec2.describe-instances"),
            "aws-cli/2.17.12 Python/3.11.9 Linux/6.5.0-1016-aws exe/x86_64.ubuntu.22 prompt/off command/ec2.describe-instances"
        );
        let s3 = cli.user_agent(Some(Service::S3), "s3.cp");
        assert!(s3.starts_with("[aws-cli/") && s3.ends_with("command/s3.cp]"));
    }

    #[test]
    fn console_and_services_use_aws_forms() {
        let console = Agent::Console {
            browser: CHROME_MAC,
        };
        assert_eq!(
            console.user_agent(Some(Service::Iam), "iam.list-users"),
            "AWS Internal"
        );
        assert_eq!(console.user_agent(Some(Service::Signin), ""), CHROME_MAC);
        assert!(
            console
                .user_agent(Some(Service::S3), "")
                .starts_with("[S3Console/")
        );
        assert_eq!(
            Agent::Service("lambda.amazonaws.com").user_agent(Some(Service::Sts), ""),
            "lambda.amazonaws.com"
        );
        assert!(
            Agent::GoSdk
                .user_agent(Some(Service::DynamoDb), "")
                .ends_with("api/dynamodb#1.34.4")
        );
    }
}
