/* test_scan_rules.c - unit tests of the built-in credential rules: table hygiene, a generated true positive and near miss per rule, category coverage, quiet on ordinary text. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "re.h"
#include "scan.h"
#include "t.h"

/*
 * No credential-looking literal lives in this file: every secret is
 * generated at test time from a template, where {N:CLASS} is N random
 * bytes from a regex-like class ("A-Za-z0-9_-") and [[ ... ]] marks the
 * span the rule must report as the secret. Any other byte is literal.
 */
#define T_UUID "{8:0-9a-f}-{4:0-9a-f}-{4:0-9a-f}-{4:0-9a-f}-{12:0-9a-f}"
#define T_B64LINE "{64:A-Za-z0-9+/}"

struct rule_case {
	const char *id;
	const char *tp; /* must be found, secret = the [[ ]] span */
	const char *tn; /* a near miss: must not be reported (NULL: none for this entry) */
};

/* One true positive and one near miss for every rule, in table order. */
static const struct rule_case cases[] = {
	/* cloud */
	{ "aws-access-key-id", "export AWS_ACCESS_KEY_ID=[[AKIA{16:A-Z2-7}]]\n", "export AWS_ACCESS_KEY_ID=AKIA{15:A-Z2-7}\n" },
	{ "aws-secret-access-key", "aws_secret_access_key = [[{40:A-Za-z0-9/+}]]\n", "aws_secret_access_key = {39:A-Za-z0-9/+}\n" },
	{ "aws-session-token", "AWS_SESSION_TOKEN=\"[[{300:A-Za-z0-9/+}]]\"\n", "AWS_SESSION_TOKEN=\"{60:A-Za-z0-9/+}\"\n" },
	{ "gcp-api-key", "{\"apiKey\": \"[[AIza{35:A-Za-z0-9_-}]]\", \"projectId\": \"demo\"}",
	  "{\"apiKey\": \"AIza{30:A-Za-z0-9_-}\"}" },
	{ "gcp-service-account-key-id", "{\n  \"type\": \"service_account\",\n  \"private_key_id\": \"[[{40:a-f0-9}]]\",\n",
	  "{\n  \"type\": \"service_account\",\n  \"private_key_id\": \"{40:G-Z}\",\n" },
	{ "google-oauth-client-secret", "client_secret: [[GOCSPX-{28:A-Za-z0-9_-}]]\n", "client_secret: GOCSPX-{20:A-Za-z0-9_-}\n" },
	{ "google-oauth-access-token", "Authorization: Bearer [[ya29.{80:A-Za-z0-9_-}]]\r\n", "token=ya29{80:A-Za-z0-9_-}\n" },
	{ "google-oauth-refresh-token", "\"refresh_token\": \"[[1//0{60:A-Za-z0-9_-}]]\"", "\"refresh_token\": \"1/0{60:A-Za-z0-9_-}\"" },
	{ "azure-storage-account-key",
	  "DefaultEndpointsProtocol=https;AccountName=acct{6:a-z0-9};AccountKey=[[{86:A-Za-z0-9+/}==]];EndpointSuffix=core.windows.net",
	  "DefaultEndpointsProtocol=https;AccountName=acct{6:a-z0-9};AccountKey={80:A-Za-z0-9+/}==;" },
	{ "azure-sas-token",
	  "https://acct.blob.core.windows.net/c/f.txt?sp=r&st=2024-01-01T00:00:00Z&se=2024-12-31T00:00:00Z&spr=https&sv=2022-11-02&sr=b&sig=[[{43:A-Za-z0-9}%3D]]\n",
	  "https://acct.blob.core.windows.net/c/f.txt?sv=2022-11-02&sr=b&sig={12:A-Za-z0-9}\n" },
	{ "azure-service-bus-key",
	  "Endpoint=sb://ns{6:a-z}.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=[[{43:A-Za-z0-9+/}=]]",
	  "Endpoint=sb://ns{6:a-z}.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey={43:A-Za-z0-9+/}" },
	{ "azure-ad-client-secret", "AZURE_CLIENT_SECRET=[[{3:A-Za-z0-9}{1:0-9}Q~{34:A-Za-z0-9_~.-}]]\n",
	  "AZURE_CLIENT_SECRET={3:A-Za-z0-9}{1:0-9}Q-{34:A-Za-z0-9_~.-}\n" },
	{ "azure-devops-pat", "AZURE_DEVOPS_EXT_PAT=[[{52:A-Za-z0-9}JQQJ{20:A-Za-z0-9}AZDO{4:A-Za-z0-9}]]\n",
	  "AZURE_DEVOPS_EXT_PAT={52:A-Za-z0-9}JQQJ{20:A-Za-z0-9}AZDX{4:A-Za-z0-9}\n" },
	{ "azure-devops-pat-legacy", "AZURE_DEVOPS_PAT: [[{52:a-z2-7}]]\n", "AZURE_DEVOPS_PAT: {51:a-z2-7}\n" },
	{ "digitalocean-pat", "DIGITALOCEAN_TOKEN=[[dop_v1_{64:a-f0-9}]]\n", "DIGITALOCEAN_TOKEN=dop_v1_{63:a-f0-9}\n" },
	{ "digitalocean-oauth-token", "token: [[doo_v1_{64:a-f0-9}]]\n", "token: doo_v2_{64:a-f0-9}\n" },
	{ "digitalocean-refresh-token", "refresh: [[dor_v1_{64:a-f0-9}]]\n", "refresh: dor_v1_{64:g-z}\n" },
	{ "alibaba-access-key-id", "access_key_id: [[LTAI{20:A-Za-z0-9}]]\n", "access_key_id: LTAI{8:A-Za-z0-9}\n" },
	{ "alibaba-secret-key", "ALIBABA_CLOUD_ACCESS_KEY_SECRET=[[{30:A-Za-z0-9}]]\n", "ALIBABA_CLOUD_ACCESS_KEY_SECRET={29:A-Za-z0-9}\n" },
	{ "ibm-cloud-api-key", "IBMCLOUD_API_KEY=[[{44:A-Za-z0-9_-}]]\n", "libm_api_key={44:A-Za-z0-9_-}\n" },
	{ "heroku-api-key", "HEROKU_API_KEY=[[HRKU-AA{58:A-Za-z0-9_-}]]\n", "HEROKU_API_KEY=HRKU-AB{58:A-Za-z0-9_-}\n" },
	{ "heroku-api-key-legacy", "heroku_api_key: [[" T_UUID "]]\n",
	  "heroku_api_key: {8:0-9a-f}-{4:0-9a-f}-{4:0-9a-f}-{12:0-9a-f}\n" },
	{ "cloudflare-api-token", "CLOUDFLARE_API_TOKEN=[[{40:A-Za-z0-9_-}]]\n", "CLOUDFLARE_API_TOKEN={39:A-Za-z0-9_-}\n" },
	{ "cloudflare-global-api-key", "CF_API_KEY=[[{37:a-f0-9}]]\n", "CF_API_KEY={36:a-f0-9}\n" },
	{ "cloudflare-origin-ca-key", "origin_ca_key = \"[[v1.0-{24:a-f0-9}-{146:a-f0-9}]]\"\n",
	  "origin_ca_key = \"v1.0-{24:a-f0-9}-{140:a-f0-9}\"\n" },
	{ "tencent-secret-id", "TENCENTCLOUD_SECRET_ID=[[AKID{32:A-Za-z0-9}]]\n", "TENCENTCLOUD_SECRET_ID=AKID{31:A-Za-z0-9}\n" },
	{ "scaleway-secret-key", "SCW_SECRET_KEY=[[" T_UUID "]]\n", "SCW_ACCESS_KEY=" T_UUID "\n" },
	{ "linode-api-token", "LINODE_TOKEN=[[{64:a-f0-9}]]\n", "LINODE_TOKEN={64:g-z}\n" },
	{ "hetzner-api-token", "HCLOUD_TOKEN=[[{64:A-Za-z0-9}]]\n", "HCLOUD_TOKEN={63:A-Za-z0-9}\n" },
	{ "yandex-api-key", "api_key: [[AQVN{36:A-Za-z0-9_-}]]\n", "api_key: AQVM{36:A-Za-z0-9_-}\n" },
	{ "vultr-api-key", "VULTR_API_KEY=[[{36:A-Z0-9}]]\n", "VULTR_API_KEY={36:a-z}\n" },

	/* source hosting */
	{ "github-pat", "GITHUB_TOKEN=[[ghp_{36:A-Za-z0-9}]]\n", "GITHUB_TOKEN=ghp_{35:A-Za-z0-9}\n" },
	{ "github-fine-grained-pat", "token: [[github_pat_{22:A-Za-z0-9}_{59:A-Za-z0-9}]]\n",
	  "token: github_pat_{22:A-Za-z0-9}_{50:A-Za-z0-9}\n" },
	{ "github-oauth-token", "oauth_token: [[gho_{36:A-Za-z0-9}]]\n", "oauth_token: gho_{36:A-Za-z0-9}_x\n" },
	{ "github-app-user-token", "\"token\": \"[[ghu_{36:A-Za-z0-9}]]\"", "\"token\": \"ghu_{20:A-Za-z0-9}\"" },
	{ "github-app-installation-token", "GH_TOKEN=[[ghs_{36:A-Za-z0-9}]]\n", "GH_TOKEN=ghs_{36:A-Za-z0-9}{1:A-Za-z0-9}\n" },
	{ "github-refresh-token", "refresh_token=[[ghr_{76:A-Za-z0-9}]]&expires_in=1", "refresh_token=ghr_{30:A-Za-z0-9}&x=1" },
	{ "gitlab-pat", "PRIVATE-TOKEN: [[glpat-{20:A-Za-z0-9_-}]]\r\n", "PRIVATE-TOKEN: glpat-{12:A-Za-z0-9_-}\r\n" },
	{ "gitlab-pipeline-trigger-token", "-F token=[[glptt-{40:a-f0-9}]] ", "-F token=glptt-{40:g-z} " },
	{ "gitlab-runner-registration-token", "--registration-token [[GR1348941{20:A-Za-z0-9_-}]] ",
	  "--registration-token GR1348940{20:A-Za-z0-9_-} " },
	{ "gitlab-runner-auth-token", "token = \"[[glrt-{20:A-Za-z0-9_-}]]\"\n", "token = \"glrt-{10:A-Za-z0-9_-}\"\n" },
	{ "gitlab-deploy-token", "password: [[gldt-{20:A-Za-z0-9_-}]]\n", "password: gldt-{19:A-Za-z0-9_-}\n" },
	{ "gitlab-cicd-job-token", "CI_JOB_TOKEN=[[glcbt-{2:A-Za-z0-9}_{20:A-Za-z0-9_-}]]\n", "CI_JOB_TOKEN=glcbt-{2:A-Za-z0-9}-{20:A-Za-z0-9_-}\n" },
	{ "gitlab-feed-token", "feed_token=[[glft-{20:A-Za-z0-9_-}]]&x", "feed_token=glft-{15:A-Za-z0-9_-}&x" },
	{ "gitlab-incoming-mail-token", "incoming+[[glimt-{25:A-Za-z0-9_-}]]@", "incoming+glimt-{20:A-Za-z0-9_-}@" },
	{ "gitlab-agent-token", "token: [[glagent-{50:A-Za-z0-9_-}]]\n", "token: glagent-{40:A-Za-z0-9_-}\n" },
	{ "gitlab-oauth-app-secret", "secret: [[gloas-{64:A-Za-z0-9_-}]]\n", "secret: gloas-{60:A-Za-z0-9_-}\n" },
	{ "gitlab-scim-token", "Authorization: Bearer [[glsoat-{20:A-Za-z0-9_-}]]\n", "Authorization: Bearer glsoat-{10:A-Za-z0-9_-}\n" },
	{ "gitlab-feature-flag-token", "instanceId: [[glffct-{20:A-Za-z0-9_-}]]\n", "instanceId: glffct-{10:A-Za-z0-9_-}\n" },
	{ "bitbucket-app-password", "BITBUCKET_APP_PASSWORD=[[ATBB{32:A-Za-z0-9}]]\n", "BITBUCKET_APP_PASSWORD=ATBB{20:A-Za-z0-9}\n" },
	{ "bitbucket-access-token", "Authorization: Bearer [[ATCTT3{180:A-Za-z0-9_=-}]]\n", "Authorization: Bearer ATCTT3{100:A-Za-z0-9_=-}\n" },
	{ "gitea-access-token", "GITEA_TOKEN=[[{40:a-f0-9}]]\n", "GITEA_TOKEN={40:g-z}\n" },

	/* CI/CD */
	{ "circleci-pat", "CIRCLE_TOKEN=[[CCIPAT_{22:A-Za-z0-9}_{40:a-f0-9}]]\n", "CIRCLE_TOKEN=CCIPAT_{22:A-Za-z0-9}_{39:a-f0-9}\n" },
	{ "circleci-project-token", "token: [[CCIPRJ_{22:A-Za-z0-9}_{40:a-f0-9}]]\n", "token: CCIPRJ_{22:A-Za-z0-9}-{40:a-f0-9}\n" },
	{ "circleci-token-legacy", "CIRCLECI_TOKEN=[[{40:a-f0-9}]]\n", "CIRCLECI_TOKEN={40:G-Z}\n" },
	{ "travis-ci-token", "TRAVIS_API_TOKEN=[[{22:A-Za-z0-9_-}]]\n", "TRAVIS_API_TOKEN={21:A-Za-z0-9_-}\n" },
	{ "buildkite-api-token", "BUILDKITE_API_TOKEN=[[bkua_{40:a-f0-9}]]\n", "BUILDKITE_API_TOKEN=bkua_{40:g-z}\n" },
	{ "drone-ci-token", "DRONE_TOKEN=[[{32:A-Za-z0-9}]]\n", "DRONE_TOKEN={31:A-Za-z0-9}\n" },
	{ "jenkins-api-token", "JENKINS_API_TOKEN=[[11{32:a-f0-9}]]\n", "JENKINS_API_TOKEN={20:a-f0-9}\n" },
	{ "codecov-token", "CODECOV_TOKEN=[[" T_UUID "]]\n", "CODECOV_TOKEN={8:G-Z}-{4:0-9a-f}-{4:0-9a-f}-{4:0-9a-f}-{12:0-9a-f}\n" },
	{ "sonarqube-token", "SONAR_TOKEN=[[squ_{40:a-f0-9}]]\n", "SONAR_TOKEN=sqx_{40:a-f0-9}\n" },
	{ "harness-api-key", "x-api-key: [[pat.{22:A-Za-z0-9_-}.{24:A-Za-z0-9}.{20:A-Za-z0-9}]]\n",
	  "x-api-key: pat.{22:A-Za-z0-9_-}.{24:A-Za-z0-9}.{12:A-Za-z0-9}\n" },

	/* chat and webhooks */
	{ "slack-bot-token", "SLACK_BOT_TOKEN=[[xoxb-{11:0-9}-{13:0-9}-{24:A-Za-z0-9}]]\n", "SLACK_BOT_TOKEN=xoxb-{11:0-9}-{13:0-9}-{10:A-Za-z0-9}\n" },
	{ "slack-user-token", "SLACK_USER_TOKEN=[[xoxp-{11:0-9}-{11:0-9}-{13:0-9}-{32:a-f0-9}]]\n",
	  "SLACK_USER_TOKEN=xoxp-{11:0-9}-{11:0-9}-x{32:a-f}\n" },
	{ "slack-app-token", "SLACK_APP_TOKEN=[[xapp-1-{11:A-Z0-9}-{13:0-9}-{64:a-f0-9}]]\n", "SLACK_APP_TOKEN=xapp-1-{11:A-Z0-9}-{13:0-9}-{10:a-f0-9}\n" },
	{ "slack-config-token", "token: [[xoxe.xoxp-1-{164:A-Za-z0-9}]]\n", "token: xoxe.xoxp-1-{100:A-Za-z0-9}\n" },
	{ "slack-refresh-token", "refresh_token: [[xoxe-1-{146:A-Za-z0-9}]]\n", "refresh_token: xoxe-1-{140:A-Za-z0-9}\n" },
	{ "slack-legacy-token", "token=[[xoxs-{10:0-9}-{10:0-9}-{10:0-9}-{64:a-f0-9}]]\n", "token=xoxs-{5:a-z}\n" },
	{ "slack-webhook-url", "url: https://hooks.slack.com/services/[[T{10:A-Z0-9}/B{10:A-Z0-9}/{24:A-Za-z0-9}]]\n",
	  "url: https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX\n" },
	{ "slack-workflow-webhook-url", "https://hooks.slack.com/triggers/[[T{10:A-Z0-9}/{13:0-9}/{32:a-f0-9}]]\n",
	  "https://hooks.slack.com/triggers/T{10:A-Z0-9}/\n" },
	{ "discord-bot-token", "DISCORD_BOT_TOKEN=[[M{25:A-Za-z0-9_-}.{6:A-Za-z0-9_-}.{38:A-Za-z0-9_-}]]\n",
	  "DISCORD_BOT_TOKEN=A{25:A-Za-z0-9_-}.{6:A-Za-z0-9_-}.{38:A-Za-z0-9_-}\n" },
	{ "discord-webhook-url", "https://discord.com/api/webhooks/[[{18:0-9}/{68:A-Za-z0-9_-}]]\n", "https://discord.com/api/webhooks/{18:0-9}\n" },
	{ "telegram-bot-token", "TELEGRAM_BOT_TOKEN=[[{10:0-9}:AA{33:A-Za-z0-9_-}]]\n", "TELEGRAM_BOT_TOKEN={10:0-9}:BB{33:A-Za-z0-9_-}\n" },
	{ "microsoft-teams-webhook",
	  "https://contoso.webhook.office.com/webhookb2/" T_UUID "@" T_UUID "/IncomingWebhook/[[{32:a-f0-9}/" T_UUID "]]\n",
	  "https://contoso.webhook.office.com/webhookb2/" T_UUID "@" T_UUID "/OutgoingWebhook/{32:a-f0-9}/" T_UUID "\n" },
	{ "microsoft-teams-workflow-webhook",
	  "https://prod-{2:0-9}.westus.logic.azure.com:443/workflows/{32:a-f0-9}/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=[[{43:A-Za-z0-9_-}]]\n",
	  "https://prod-{2:0-9}.westus.logic.azure.com:443/workflows/{32:a-f0-9}/triggers/manual/paths/invoke?sv=1.0&sig={10:A-Za-z0-9_-}\n" },
	{ "mattermost-access-token", "MATTERMOST_TOKEN=[[{26:a-z0-9}]]\n", "MATTERMOST_TOKEN={26:A-Z}\n" },
	{ "mattermost-webhook-url", "curl -d @msg.json https://chat.example.org/hooks/[[{26:a-z0-9}]]\n", "curl https://chat.example.org/hooks/{10:a-z0-9}\n" },
	{ "zulip-api-key", "ZULIP_API_KEY=[[{32:A-Za-z0-9}]]\n", "ZULIP_API_KEY={31:A-Za-z0-9}\n" },

	/* payments */
	{ "stripe-secret-key", "STRIPE_SECRET_KEY=[[sk_live_{99:A-Za-z0-9}]]\n", "STRIPE_SECRET_KEY=sk_live_{10:A-Za-z0-9}\n" },
	{ "stripe-test-secret-key", "Stripe.api_key = \"[[sk_test_{99:A-Za-z0-9}]]\"\n", "Stripe.publishable_key = \"pk_test_{99:A-Za-z0-9}\"\n" },
	{ "stripe-restricted-key", "STRIPE_KEY=[[rk_live_{99:A-Za-z0-9}]]\n", "STRIPE_KEY=rk_live_{12:A-Za-z0-9}\n" },
	{ "stripe-webhook-secret", "STRIPE_WEBHOOK_SECRET=[[whsec_{32:A-Za-z0-9}]]\n", "STRIPE_WEBHOOK_SECRET=whsec_{10:A-Za-z0-9}\n" },
	{ "square-access-token", "SQUARE_ACCESS_TOKEN=[[EAAA{60:A-Za-z0-9_-}]]\n", "SQUARE_ACCESS_TOKEN=EAAB{60:A-Za-z0-9_-}\n" },
	{ "square-oauth-secret", "application_secret: [[sq0csp-{43:A-Za-z0-9_-}]]\n", "application_secret: sq0csp-{20:A-Za-z0-9_-}\n" },
	{ "braintree-access-token", "BRAINTREE_ACCESS_TOKEN=[[access_token$production${16:0-9a-z}${32:0-9a-f}]]\n",
	  "BRAINTREE_ACCESS_TOKEN=access_token$staging${16:0-9a-z}${32:0-9a-f}\n" },
	{ "paypal-client-secret", "PAYPAL_CLIENT_SECRET=[[{80:A-Za-z0-9_-}]]\n", "PAYPAL_CLIENT_SECRET={79:A-Za-z0-9_-}\n" },
	{ "adyen-api-key", "ADYEN_API_KEY=[[AQE{60:A-Za-z0-9+/}==-{40:A-Za-z0-9+/}=]]\n", "ADYEN_API_KEY=AQE{60:A-Za-z0-9+/}\n" },
	{ "razorpay-key-secret", "RAZORPAY_KEY_SECRET=[[{24:A-Za-z0-9}]]\n", "RAZORPAY_KEY_SECRET={23:A-Za-z0-9}\n" },
	{ "plaid-secret-key", "PLAID_SECRET=[[{30:a-f0-9}]]\n", "PLAID_SECRET={29:a-f0-9}\n" },
	{ "plaid-access-token", "\"access_token\": \"[[access-production-" T_UUID "]]\"", "\"access_token\": \"access-staging-" T_UUID "\"" },
	{ "flutterwave-secret-key", "FLW_SECRET_KEY=[[FLWSECK-{32:a-f0-9}-X]]\n", "FLW_PUBLIC_KEY=FLWPUBK-{32:a-f0-9}-X\n" },
	{ "gocardless-access-token", "GOCARDLESS_ACCESS_TOKEN=[[live_{40:A-Za-z0-9_=-}]]\n", "GOCARDLESS_ACCESS_TOKEN=sandbox_{40:A-Za-z0-9_=-}\n" },

	/* AI / LLM */
	{ "openai-api-key", "OPENAI_API_KEY=[[sk-{20:A-Za-z0-9}T3BlbkFJ{20:A-Za-z0-9}]]\n", "OPENAI_API_KEY=sk-{48:A-Za-z0-9}\n" },
	{ "openai-project-key", "OPENAI_API_KEY=[[sk-proj-{74:A-Za-z0-9_-}T3BlbkFJ{74:A-Za-z0-9_-}]]\n", "OPENAI_API_KEY=sk-proj-{40:A-Za-z0-9_-}\n" },
	{ "anthropic-api-key", "ANTHROPIC_API_KEY=[[sk-ant-api03-{93:A-Za-z0-9_-}AA]]\n", "ANTHROPIC_API_KEY=sk-ant-api03-{93:A-Za-z0-9_-}BB\n" },
	{ "anthropic-admin-key", "x-api-key: [[sk-ant-admin01-{93:A-Za-z0-9_-}AA]]\r\n", "x-api-key: sk-ant-admin01-{60:A-Za-z0-9_-}AA\r\n" },
	{ "anthropic-oauth-token", "CLAUDE_CODE_OAUTH_TOKEN=[[sk-ant-oat01-{95:A-Za-z0-9_-}AA]]\n", "CLAUDE_CODE_OAUTH_TOKEN=sk-ant-oat01-{40:A-Za-z0-9_-}\n" },
	{ "cohere-api-key", "COHERE_API_KEY=[[{40:A-Za-z0-9}]]\n", "COHERE_API_KEY={39:A-Za-z0-9}\n" },
	{ "huggingface-token", "HF_TOKEN=[[hf_{34:A-Za-z}]]\n", "HF_TOKEN=hf_{20:A-Za-z}\n" },
	{ "huggingface-org-token", "token=[[api_org_{34:A-Za-z}]]\n", "token=api_org_{20:A-Za-z}\n" },
	{ "replicate-api-token", "REPLICATE_API_TOKEN=[[r8_{37:A-Za-z0-9}]]\n", "REPLICATE_API_TOKEN=r8_{30:A-Za-z0-9}\n" },
	{ "groq-api-key", "GROQ_API_KEY=[[gsk_{52:A-Za-z0-9}]]\n", "GROQ_API_KEY=gsk_{40:A-Za-z0-9}\n" },
	{ "mistral-api-key", "MISTRAL_API_KEY=[[{32:A-Za-z0-9}]]\n", "MISTRAL_API_KEY={31:A-Za-z0-9}\n" },
	{ "perplexity-api-key", "PPLX_API_KEY=[[pplx-{48:A-Za-z0-9}]]\n", "PPLX_API_KEY=pplx-{40:A-Za-z0-9}\n" },
	{ "xai-api-key", "XAI_API_KEY=[[xai-{80:A-Za-z0-9}]]\n", "XAI_API_KEY=xai-{60:A-Za-z0-9}\n" },
	{ "openrouter-api-key", "OPENROUTER_API_KEY=[[sk-or-v1-{64:a-f0-9}]]\n", "OPENROUTER_API_KEY=sk-or-v1-{64:g-z}\n" },
	{ "deepseek-api-key", "DEEPSEEK_API_KEY=[[sk-{32:a-f0-9}]]\n", "DEEPSEEK_API_KEY=sk-{31:a-f0-9}\n" },
	{ "langsmith-api-key", "LANGSMITH_API_KEY=[[lsv2_pt_{32:a-f0-9}_{10:a-f0-9}]]\n", "LANGSMITH_API_KEY=lsv2_pt_{32:a-f0-9}\n" },
	{ "pinecone-api-key", "PINECONE_API_KEY=[[pcsk_{6:A-Za-z0-9}_{64:A-Za-z0-9}]]\n", "PINECONE_API_KEY=pcsk_{20:A-Za-z0-9}\n" },
	{ "elevenlabs-api-key", "ELEVENLABS_API_KEY=[[sk_{48:a-f0-9}]]\n", "ELEVENLABS_API_KEY=sk_{40:a-f0-9}\n" },

	/* package registries */
	{ "npm-access-token", "//registry.npmjs.org/:_authToken=[[npm_{36:A-Za-z0-9}]]\n", "//registry.npmjs.org/:_authToken=npm_{30:A-Za-z0-9}\n" },
	{ "npm-registry-auth", "//registry.npmjs.org/:_authToken=[[" T_UUID "]]\n", "//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n" },
	{ "pypi-upload-token", "password = [[pypi-AgEIcHlwaS5vcmc{70:A-Za-z0-9_-}]]\n", "password = pypi-AgEIcHlwaS5vcmc{20:A-Za-z0-9_-}\n" },
	{ "rubygems-api-key", "GEM_HOST_API_KEY: [[rubygems_{48:a-f0-9}]]\n", "GEM_HOST_API_KEY: rubygems_{47:a-f0-9}\n" },
	{ "nuget-api-key", "NUGET_API_KEY=[[oy2{43:a-z0-9}]]\n", "NUGET_API_KEY=oy2{43:A-Z}\n" },
	{ "docker-hub-token", "echo [[dckr_pat_{27:A-Za-z0-9_-}]] | docker login -u me --password-stdin\n",
	  "echo dckr_pat_{20:A-Za-z0-9_-} | docker login -u me --password-stdin\n" },
	{ "docker-config-auth", "{\"auths\": {\"https://index.docker.io/v1/\": {\"auth\": \"[[{32:A-Za-z0-9+/}]]\"}}}",
	  "{\"auths\": {\"https://index.docker.io/v1/\": {\"auth\": \"{8:A-Za-z0-9}\"}}}" },
	{ "crates-io-token", "CARGO_REGISTRY_TOKEN=[[cio{32:A-Za-z0-9}]]\n", "CARGO_REGISTRY_TOKEN=cio{20:A-Za-z0-9}\n" },
	{ "clojars-token", "CLOJARS_TOKEN=[[CLOJARS_{60:a-z0-9}]]\n", "CLOJARS_TOKEN=CLOJARS_{50:a-z0-9}\n" },
	{ "artifactory-api-key", "X-JFrog-Art-Api: [[AKCp{69:A-Za-z0-9}]]\n", "X-JFrog-Art-Api: AKCp{60:A-Za-z0-9}\n" },
	{ "artifactory-reference-token", "Authorization: Bearer [[cmVmd{59:A-Za-z0-9}]]\n", "Authorization: Bearer cmVmd{50:A-Za-z0-9}\n" },
	{ "gradle-plugin-portal-key", "gradle.publish.key=[[{32:A-Za-z0-9}]]\n", "gradle.publish.key={16:A-Za-z0-9}\n" },

	/* SaaS */
	{ "twilio-api-key", "TWILIO_API_KEY=[[SK{32:a-f0-9}]]\n", "TWILIO_ACCOUNT_SID=AC{32:a-f0-9}\n" },
	{ "twilio-auth-token", "TWILIO_AUTH_TOKEN=[[{32:a-f0-9}]]\n", "TWILIO_AUTH_TOKEN={31:a-f0-9}\n" },
	{ "sendgrid-api-key", "SENDGRID_API_KEY=[[SG.{22:A-Za-z0-9_-}.{43:A-Za-z0-9_-}]]\n", "SENDGRID_API_KEY=SG.{22:A-Za-z0-9_-}.{20:A-Za-z0-9_-}\n" },
	{ "mailgun-api-key", "MAILGUN_API_KEY=[[key-{32:a-f0-9}]]\n", "MAILGUN_API_KEY=key-{20:a-f0-9}\n" },
	{ "mailchimp-api-key", "MAILCHIMP_API_KEY=[[{32:a-f0-9}-us{2:0-9}]]\n", "MAILCHIMP_API_KEY={32:a-f0-9}-eu{2:0-9}\n" },
	{ "shopify-access-token", "X-Shopify-Access-Token: [[shpat_{32:a-f0-9}]]\n", "X-Shopify-Access-Token: shpat_{32:g-z}\n" },
	{ "shopify-custom-app-token", "token: [[shpca_{32:a-f0-9}]]\n", "token: shpca_{31:a-f0-9}\n" },
	{ "shopify-private-app-token", "password: [[shppa_{32:a-f0-9}]]\n", "password: shppa_{31:a-f0-9}\n" },
	{ "shopify-shared-secret", "SHOPIFY_API_SECRET=[[shpss_{32:a-f0-9}]]\n", "SHOPIFY_API_SECRET=shpss_{32:g-z}\n" },
	{ "atlassian-api-token", "JIRA_API_TOKEN=[[ATATT3{186:A-Za-z0-9_=-}]]\n", "JIRA_API_TOKEN=ATATT3{100:A-Za-z0-9_=-}\n" },
	{ "linear-api-key", "LINEAR_API_KEY=[[lin_api_{40:A-Za-z0-9}]]\n", "LINEAR_API_KEY=lin_api_{30:A-Za-z0-9}\n" },
	{ "notion-api-token", "NOTION_TOKEN=[[ntn_{11:0-9}{35:A-Za-z0-9}]]\n", "NOTION_TOKEN=ntn_{46:A-Za-z}\n" },
	{ "notion-legacy-token", "NOTION_TOKEN=[[secret_{43:A-Za-z0-9}]]\n", "NOTION_TOKEN=secret_{20:A-Za-z0-9}\n" },
	{ "datadog-api-key", "DD_API_KEY=[[{32:a-f0-9}]]\n", "DD_API_KEY={32:g-z}\n" },
	{ "datadog-app-key", "DD_APP_KEY=[[{40:a-f0-9}]]\n", "DD_APP_KEY={32:a-f0-9}\n" },
	{ "newrelic-user-api-key", "NEW_RELIC_API_KEY=[[NRAK-{27:A-Z0-9}]]\n", "NEW_RELIC_API_KEY=NRAK-{20:A-Z0-9}\n" },
	{ "newrelic-insert-key", "X-Insert-Key: [[NRII-{32:A-Za-z0-9_-}]]\n", "X-Insert-Key: NRII-{20:A-Za-z0-9_-}\n" },
	{ "newrelic-browser-key", "licenseKey: \"[[NRJS-{19:a-f0-9}]]\"", "licenseKey: \"NRJS-{18:a-f0-9}\"" },
	{ "newrelic-license-key", "NEW_RELIC_LICENSE_KEY=[[{36:a-f0-9}NRAL]]\n", "NEW_RELIC_LICENSE_KEY={36:a-f0-9}NRAX\n" },
	{ "sentry-org-token", "SENTRY_AUTH_TOKEN=[[sntrys_eyJpYXQiO{120:A-Za-z0-9+/}_{43:A-Za-z0-9+/}]]\n",
	  "SENTRY_AUTH_TOKEN=sntrys_eyJpYXQiO{120:A-Za-z0-9+/}\n" },
	{ "sentry-user-token", "SENTRY_AUTH_TOKEN=[[sntryu_{64:a-f0-9}]]\n", "SENTRY_AUTH_TOKEN=sntryu_{63:a-f0-9}\n" },
	{ "grafana-cloud-token", "GRAFANA_CLOUD_TOKEN=[[glc_{60:A-Za-z0-9+/}]]\n", "GRAFANA_CLOUD_TOKEN=glc_{10:A-Za-z0-9+/}\n" },
	{ "grafana-service-account-token", "GRAFANA_TOKEN=[[glsa_{32:A-Za-z0-9}_{8:a-f0-9}]]\n", "GRAFANA_TOKEN=glsa_{32:A-Za-z0-9}_{8:g-z}\n" },
	{ "grafana-api-key", "GRAFANA_API_KEY=[[eyJrIjoi{80:A-Za-z0-9}]]\n", "GRAFANA_API_KEY=eyJrIjoi{20:A-Za-z0-9}\n" },
	{ "vault-service-token", "VAULT_TOKEN=[[hvs.{95:A-Za-z0-9_-}]]\n", "VAULT_TOKEN=hvs.{24:A-Za-z0-9_-}\n" },
	{ "vault-batch-token", "VAULT_TOKEN=[[hvb.{150:A-Za-z0-9_-}]]\n", "VAULT_TOKEN=hvb.{100:A-Za-z0-9_-}\n" },
	{ "doppler-token", "DOPPLER_TOKEN=[[dp.st.{44:A-Za-z0-9}]]\n", "DOPPLER_TOKEN=dp.xx.{44:A-Za-z0-9}\n" },
	{ "postman-api-key", "X-Api-Key: [[PMAK-{24:a-f0-9}-{34:a-f0-9}]]\n", "X-Api-Key: PMAK-{24:a-f0-9}-{30:a-f0-9}\n" },
	{ "figma-pat", "FIGMA_TOKEN=[[figd_{40:A-Za-z0-9_-}]]\n", "FIGMA_TOKEN=figd_your_token_here\n" },
	{ "okta-api-token", "OKTA_API_TOKEN=[[00{40:A-Za-z0-9_-}]]\n", "OKTA_API_TOKEN=01{40:A-Za-z0-9_-}\n" },
	{ "asana-pat", "ASANA_PAT=[[2/{16:0-9}/{16:0-9}:{32:a-f0-9}]]\n", "ASANA_PAT=2/{16:0-9}/{16:0-9}\n" },
	{ "dropbox-access-token", "DROPBOX_TOKEN=[[sl.{140:A-Za-z0-9_-}]]\n", "DROPBOX_TOKEN=sl.{60:A-Za-z0-9_-}\n" },
	{ "databricks-token", "DATABRICKS_TOKEN=[[dapi{32:a-f0-9}]]\n", "DATABRICKS_TOKEN=dapi{32:g-z}\n" },
	{ "snyk-api-token", "SNYK_TOKEN=[[" T_UUID "]]\n", "SNYK_TOKEN={8:G-Z}-{4:0-9a-f}-{4:0-9a-f}-{4:0-9a-f}-{12:0-9a-f}\n" },
	{ "pulumi-access-token", "PULUMI_ACCESS_TOKEN=[[pul-{40:a-f0-9}]]\n", "PULUMI_ACCESS_TOKEN=pul-{39:a-f0-9}\n" },
	{ "terraform-cloud-token", "token = \"[[{14:A-Za-z0-9}.atlasv1.{67:A-Za-z0-9_=-}]]\"\n", "token = \"{14:A-Za-z0-9}.atlasv2.{67:A-Za-z0-9_=-}\"\n" },
	{ "flyio-token", "FLY_API_TOKEN=\"FlyV1 [[fm2_{200:A-Za-z0-9+/}==]]\"\n", "FLY_API_TOKEN=\"FlyV1 fm2_{50:A-Za-z0-9+/}\"\n" },
	{ "vercel-token", "VERCEL_TOKEN=[[{24:A-Za-z0-9}]]\n", "VERCEL_TOKEN={23:A-Za-z0-9}\n" },
	{ "netlify-pat", "NETLIFY_AUTH_TOKEN=[[nfp_{36:A-Za-z0-9}]]\n", "NETLIFY_AUTH_TOKEN=nfp_{20:A-Za-z0-9}\n" },
	{ "netlify-token", "NETLIFY_AUTH_TOKEN=[[{43:A-Za-z0-9_-}]]\n", "NETLIFY_AUTH_TOKEN={30:A-Za-z0-9_-}\n" },
	{ "supabase-pat", "SUPABASE_ACCESS_TOKEN=[[sbp_{40:a-f0-9}]]\n", "SUPABASE_ACCESS_TOKEN=sbp_{39:a-f0-9}\n" },
	{ "supabase-secret-key", "SUPABASE_SECRET_KEY=[[sb_secret_{40:A-Za-z0-9_-}]]\n", "SUPABASE_PUBLISHABLE_KEY=sb_publishable_{40:A-Za-z0-9_-}\n" },
	{ "planetscale-token", "PLANETSCALE_SERVICE_TOKEN=[[pscale_tkn_{43:A-Za-z0-9_-}]]\n", "PLANETSCALE_SERVICE_TOKEN=pscale_tkn_{20:A-Za-z0-9_-}\n" },
	{ "planetscale-password", "DATABASE_PASSWORD=[[pscale_pw_{43:A-Za-z0-9_-}]]\n", "DATABASE_PASSWORD=pscale_pw_{20:A-Za-z0-9_-}\n" },
	{ "planetscale-oauth-token", "token: [[pscale_oauth_{43:A-Za-z0-9_-}]]\n", "token: pscale_oauth_{20:A-Za-z0-9_-}\n" },
	{ "onepassword-service-account-token", "OP_SERVICE_ACCOUNT_TOKEN=[[ops_eyJ{400:A-Za-z0-9+/}]]\n", "OP_SERVICE_ACCOUNT_TOKEN=ops_eyJ{100:A-Za-z0-9+/}\n" },
	{ "onepassword-secret-key", "Secret Key: [[A3-{6:A-Z0-9}-{11:A-Z0-9}-{5:A-Z0-9}-{5:A-Z0-9}-{5:A-Z0-9}]]\n",
	  "Secret Key: A3-{6:A-Z0-9}-{11:A-Z0-9}-{5:A-Z0-9}-{5:A-Z0-9}\n" },
	{ "age-secret-key", "# created: 2024-01-01\n[[AGE-SECRET-KEY-1{58:QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L}]]\n", "AGE-SECRET-KEY-1{58:a-z}\n" },
	{ "dynatrace-api-token", "Api-Token [[dt0c01.{24:A-Z0-9}.{64:A-Z0-9}]]\n", "Api-Token dt0c01.{24:A-Z0-9}.{32:A-Z0-9}\n" },
	{ "shippo-api-token", "SHIPPO_API_KEY=[[shippo_live_{40:a-f0-9}]]\n", "SHIPPO_API_KEY=shippo_live_{39:a-f0-9}\n" },
	{ "brevo-api-key", "api-key: [[xkeysib-{64:a-f0-9}-{16:A-Za-z0-9}]]\n", "api-key: xkeysib-{64:a-f0-9}-{8:A-Za-z0-9}\n" },
	{ "mapbox-secret-token", "MAPBOX_SECRET_TOKEN=[[sk.eyJ{60:A-Za-z0-9_-}.{22:A-Za-z0-9_-}]]\n", "MAPBOX_TOKEN=pk.eyJ{60:A-Za-z0-9_-}.{22:A-Za-z0-9_-}\n" },
	{ "airtable-pat", "AIRTABLE_TOKEN=[[pat{14:A-Za-z0-9}.{64:a-f0-9}]]\n", "AIRTABLE_TOKEN=pat{14:A-Za-z0-9}.{32:a-f0-9}\n" },
	{ "typeform-token", "TYPEFORM_TOKEN=[[tfp_{59:A-Za-z0-9_-}]]\n", "TYPEFORM_TOKEN=tfp_{40:A-Za-z0-9_-}\n" },
	{ "readme-api-key", "README_API_KEY=[[rdme_{70:a-z0-9}]]\n", "README_API_KEY=rdme_{60:a-z0-9}\n" },
	{ "prefect-api-key", "PREFECT_API_KEY=[[pnu_{36:A-Za-z0-9}]]\n", "PREFECT_API_KEY=pnu_{30:A-Za-z0-9}\n" },
	{ "ngrok-authtoken", "NGROK_AUTHTOKEN=[[{27:A-Za-z0-9}_{21:A-Za-z0-9}]]\n", "NGROK_AUTHTOKEN={27:A-Za-z0-9}-{21:A-Za-z0-9}\n" },
	{ "hubspot-private-app-token", "HUBSPOT_TOKEN=[[pat-na1-" T_UUID "]]\n", "HUBSPOT_TOKEN=pat-xx1-" T_UUID "\n" },
	{ "pagerduty-api-key", "PAGERDUTY_API_KEY=[[u+{18:A-Za-z0-9_-}]]\n", "PAGERDUTY_API_KEY=u+{10:A-Za-z0-9_-}\n" },
	{ "algolia-admin-key", "ALGOLIA_ADMIN_KEY=[[{32:a-f0-9}]]\n", "ALGOLIA_ADMIN_KEY={31:a-f0-9}\n" },
	{ "zendesk-api-token", "ZENDESK_API_TOKEN=[[{40:A-Za-z0-9}]]\n", "ZENDESK_API_TOKEN={39:A-Za-z0-9}\n" },
	{ "twitter-bearer-token", "TWITTER_BEARER_TOKEN=[[AAAAAAAAAAAAAAAAAAAAAA{90:A-Za-z0-9}]]\n", "TWITTER_BEARER_TOKEN=AAAAAAAAAAAAAAAAAAAAAA{40:A-Za-z0-9}\n" },
	{ "facebook-access-token", "FB_ACCESS_TOKEN=[[EAAC{150:A-Za-z0-9}]]\n", "FB_ACCESS_TOKEN=EAAC{50:A-Za-z0-9}\n" },
	{ "easypost-api-key", "EASYPOST_API_KEY=[[EZAK{54:A-Za-z0-9}]]\n", "EASYPOST_API_KEY=EZAK{40:A-Za-z0-9}\n" },
	{ "duffel-api-token", "DUFFEL_TOKEN=[[duffel_live_{43:A-Za-z0-9_-}]]\n", "DUFFEL_TOKEN=duffel_prod_{43:A-Za-z0-9_-}\n" },

	/* private keys: the secret is the body between the armor lines */
	{ "private-key-rsa", "-----BEGIN RSA PRIVATE KEY-----[[\n" T_B64LINE "\n" T_B64LINE "\n{20:A-Za-z0-9+/}==\n]]-----END RSA PRIVATE KEY-----\n",
	  "-----BEGIN RSA PRIVATE KEY-----\n{20:A-Za-z0-9+/}\n-----END RSA PRIVATE KEY-----\n" },
	{ "private-key-ec", "-----BEGIN EC PRIVATE KEY-----[[\n" T_B64LINE "\n{56:A-Za-z0-9+/}==\n]]-----END EC PRIVATE KEY-----\n",
	  "-----BEGIN EC PRIVATE KEY-----\n...\n-----END EC PRIVATE KEY-----\n" },
	{ "private-key-dsa", "-----BEGIN DSA PRIVATE KEY-----[[\n" T_B64LINE "\n" T_B64LINE "\n]]-----END DSA PRIVATE KEY-----\n",
	  "-----BEGIN DSA PUBLIC KEY-----\n" T_B64LINE "\n-----END DSA PUBLIC KEY-----\n" },
	{ "private-key-openssh", "-----BEGIN OPENSSH PRIVATE KEY-----[[\nb3BlbnNzaC1rZXktdjEAAAAA{40:A-Za-z0-9+/}\n" T_B64LINE "\n]]-----END OPENSSH PRIVATE KEY-----\n",
	  "-----BEGIN OPENSSH PRIVATE KEY-----\n<redacted>\n-----END OPENSSH PRIVATE KEY-----\n" },
	{ "private-key-pkcs8", "\"private_key\": \"-----BEGIN PRIVATE KEY-----[[\\n" T_B64LINE "\\n" T_B64LINE "\\n]]-----END PRIVATE KEY-----\\n\",\n",
	  "\"private_key\": \"-----BEGIN PRIVATE KEY-----\\n\",\n" },
	{ "private-key-pkcs8-encrypted", "-----BEGIN ENCRYPTED PRIVATE KEY-----[[\n" T_B64LINE "\n" T_B64LINE "\n]]-----END ENCRYPTED PRIVATE KEY-----\n",
	  "-----BEGIN ENCRYPTED PRIVATE KEY-----\n-----END ENCRYPTED PRIVATE KEY-----\n" },
	{ "private-key-pgp", "-----BEGIN PGP PRIVATE KEY BLOCK-----[[\nVersion: GnuPG v2\n\n" T_B64LINE "\n" T_B64LINE "\n={4:A-Za-z0-9+/}\n]]-----END PGP PRIVATE KEY BLOCK-----\n",
	  "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n" T_B64LINE "\n" T_B64LINE "\n-----END PGP PUBLIC KEY BLOCK-----\n" },
	{ "private-key-putty",
	  "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: eddsa-key-20240101\nPublic-Lines: 2\n" T_B64LINE "\n{4:A-Za-z0-9+/}\nPrivate-Lines: 1\n[[{44:A-Za-z0-9+/}\n]]Private-MAC: {64:0-9a-f}\n",
	  "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: eddsa-key-20240101\nPublic-Lines: 2\n" T_B64LINE "\n{4:A-Za-z0-9+/}\n" },

	/* tokens by structure */
	{ "jwt", "Authorization: Bearer [[eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ{60:A-Za-z0-9_-}.{43:A-Za-z0-9_-}]]\r\n",
	  "Authorization: Bearer eyJhbGciOiJub25lIn0.eyJ{40:A-Za-z0-9_-}.\r\n" },

	/* generic */
	{ "generic-api-key", "config.api_key = \"[[{32:A-Za-z0-9}]]\"\n", "api_key = \"your_api_key_here\"\n" },
	{ "generic-bearer-token", "curl -H \"Authorization: Bearer [[{40:A-Za-z0-9._~+/-}]]\" https://api.example.com/v1\n",
	  "curl -H \"Authorization: Bearer YOUR_TOKEN_HERE_0123456789\" https://api.example.com/v1\n" },
	{ "generic-basic-auth", "Authorization: Basic [[{24:A-Za-z0-9+/}]]\r\n", "Authorization: Basic {4:A-Za-z0-9}\r\n" },
	{ "generic-connection-string-password", "Server=db.internal;Database=app;User Id=svc_app;Password=[[{16:A-Za-z0-9!@#%^*}]];",
	  "Server=db.internal;Database=app;User Id=svc_app;Password=<password>;" },
	{ "url-credentials", "DATABASE_URL=postgres://app:[[{20:A-Za-z0-9_~-}]]@db.internal:5432/app\n",
	  "DATABASE_URL=postgres://app:${DB_PASSWORD}@db.internal:5432/app\n" },
};

/* More forms of some rules: other encodings of the same secret, other placeholders. */
static const struct rule_case extra_cases[] = {
	{ "aws-access-key-id", "\"AccessKeyId\": \"[[ASIA{16:A-Z2-7}]]\",", "aws_access_key_id = AKIA{12:A-Z2-7}EXAMPLE\n" },
	{ "aws-secret-access-key", "secretAccessKey: '[[{40:A-Za-z0-9/+}]]'\n", "aws_secret_access_key = {30:A-Za-z0-9/+}EXAMPLEKEY\n" },
	{ "gitlab-pat", "GITLAB_TOKEN=[[glpat-{40:A-Za-z0-9_-}.01{7:0-9a-z}]]\n", NULL },
	{ "gitlab-runner-auth-token", "token: [[glrt-t1_{40:A-Za-z0-9_-}.01{7:0-9a-z}]]\n", NULL },
	{ "flyio-token", "FLY_ACCESS_TOKEN=[[fo1_{43:A-Za-z0-9_-}]]\n", NULL },
	{ "discord-webhook-url", "https://discordapp.com/api/webhooks/[[{19:0-9}/{68:A-Za-z0-9_-}]]\n", NULL },
	{ "private-key-rsa",
	  "static const char key_pem[] =\n\t\"-----BEGIN RSA PRIVATE KEY-----[[\\n\"\n\t\"" T_B64LINE "\\n\"\n\t\"" T_B64LINE
	  "\\n\"\n\t\"]]-----END RSA PRIVATE KEY-----\\n\";\n",
	  "#define PEM_BEGIN \"-----BEGIN RSA PRIVATE KEY-----\"\n#define PEM_END \"-----END RSA PRIVATE KEY-----\"\n" },
	{ "private-key-rsa",
	  "-----BEGIN RSA PRIVATE KEY-----[[\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,{32:0-9A-F}\n\n" T_B64LINE "\n" T_B64LINE
	  "\n]]-----END RSA PRIVATE KEY-----\n",
	  NULL },
	{ "generic-api-key", "\"password\": \"[[{20:A-Za-z0-9!#%^*?~-}]]\",\n", "password: \"${{ secrets.DB_PASSWORD }}\"\n" },
	{ "generic-api-key", "SECRET_KEY=[[{40:a-f0-9}]]\n", "token = os.environ[\"TOKEN\"]\n" },
	{ "generic-api-key", "client_secret => '[[{24:A-Za-z0-9_.~-}]]',\n", "const char *key = \"EXAMPLE_KEY_VALUE_123\";\n" },
	{ "generic-api-key", NULL, "secret_key: ${SECRET_KEY}\n" },
	{ "generic-api-key", NULL, "API_KEY=<your-key>\n" },
	{ "generic-api-key", NULL, "password = \"changeme-{20:a-z0-9}\"\n" },
	{ "generic-api-key", NULL, "token_url = \"https://auth.example.com/oauth/token\"\n" },
	{ "generic-api-key", NULL, "public_key = \"{44:A-Za-z0-9+/}\"\n" },
	{ "generic-api-key", NULL, "key_path = /etc/ssl/private/server_key_2024.pem\n" },
	{ "generic-api-key", NULL, "auth = getAuthorizationHeader2(request);\n" },
	{ "url-credentials", "MONGO_URL=mongodb+srv://admin:[[{16:A-Za-z0-9}]]@cluster0.abcde.mongodb.net/db\n",
	  "snprintf(url, sizeof url, \"%s://%s:%s@%s\", scheme, user, pass, host);\n" },
	{ "url-credentials", "git clone https://oauth2:[[{20:A-Za-z0-9_-}]]@gitlab.example.com/g/p.git\n", "see https://user:{password}@host/path\n" },
	{ "url-credentials", NULL, "https://user:password@example.com/\n" },
	{ "url-credentials", NULL, "ssh://git@example.com:22/repo.git and http://[::1]:8080/x\n" },
	/*
	 * Near misses from the scan of the dependency sources (docs/scanning.md,
	 * "False positives on the dependency sources"), each beside a true
	 * positive of the same shape that must stay reported.
	 */
	/* mbedtls test vectors: NAME:"hex" fields of a colon-separated record */
	{ "generic-api-key", "PSA_KEY_DERIVATION_INPUT_SECRET:\"[[{64:0-9a-f}]]\"\n",
	  "derive_output:PSA_ALG_HKDF(PSA_ALG_SHA_256):PSA_KEY_DERIVATION_INPUT_SECRET:\"{64:0-9a-f}\":PSA_SUCCESS:0:\"\"\n" },
	{ "generic-api-key", "{secret:\"[[{32:A-Za-z0-9}]]\",id:7}", "derive:PSA_KEY_DERIVATION_INPUT_OTHER_SECRET:'{40:0-9a-f}':0\n" },
	/* the nonce Postman adds to every request (cjson's vendored unity tests) */
	{ "generic-api-key", "X-Auth-Token: [[{40:A-Za-z0-9}]]\r\n",
	  "GET / HTTP/1.1\r\nPostman-Token: {8:0-9a-f}-{4:0-9a-f}-{4:0-9a-f}-{4:0-9a-f}-{12:0-9a-f}\r\nAccept: */*\r\n" },
	/* URL parser tests: user:pass... with percent-encoded tails (libgit2) */
	/* Python type annotations (the cryptography package): a dotted type name, not a value */
	{ "generic-api-key", "private_key: \"[[{8:a-z}.{6:A-Z0-9}{10:a-z0-9}]]\"\n",
	  "    def f(self, private_key: ed25519.Ed25519PrivateKey, f_priv: _FragList) -> None:\n" },
	/* Python's oauthlib, met in the benchmark's traffic corpus: an identifier ending in _auth assigned a class */
	{ "npm-registry-auth", "_auth = [[{24:A-Za-z0-9+/}]]\n",
	  "        self.openid_connect_auth = AuthorizationCodeGrant(request_validator)\n" },
	{ "url-credentials", "https://deploy:[[pass{12:A-Za-z0-9}]]@git.example.com/r.git\n",
	  "\"https://user:pass%2fis%40{3:a-z}@hostname.com:1234/\"\n" },
	{ "url-credentials", "https://username:[[{16:A-Za-z0-9}]]@example.com/\n",
	  "\"https://user%2fname:pass%40word%zyx%v@example.com/foo/bar\"\n" },
	/* PEM parser tests: armor and DEK-Info headers around a few bytes (mbedtls test_suite_pem) */
	{ "private-key-ec",
	  "-----BEGIN EC PRIVATE KEY-----[[\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,{32:0-9A-F}\n\n" T_B64LINE
	  "\n{44:A-Za-z0-9+/}=\n]]-----END EC PRIVATE KEY-----\n",
	  "\"-----BEGIN EC PRIVATE KEY-----\\nProc-Type\\: 4,ENCRYPTED\\nDEK-Info\\: AES-128-CBC,{32:0-9A-F}\\n\\n{22:A-Za-z0-9+/}==\\n"
	  "-----END EC PRIVATE KEY-----\"\n" },
	{ "generic-bearer-token", NULL, "headers[\"Authorization\"] = \"Bearer \" + token\n" },
	{ "npm-access-token", NULL, "//registry.npmjs.org/:_authToken=npm_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n" },
	{ "slack-bot-token", NULL, "SLACK_BOT_TOKEN=xoxb-0000000000-0000000000-xxxxxxxxxxxxxxxxxxxxxxxx\n" },
};

/* ---- generation ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Parse a class body "A-Za-z0-9_-" (up to the closing brace) into a byte list; returns its size. */
static size_t parse_class(const char *p, const char *end, char *set, size_t cap)
{
	size_t n = 0;

	while (p < end && n < cap) {
		if (p + 2 < end && p[1] == '-') {
			int c;

			for (c = (unsigned char)p[0]; c <= (unsigned char)p[2] && n < cap; c++)
				set[n++] = (char)c;
			p += 3;
		} else {
			set[n++] = *p++;
		}
	}
	return n;
}

/*
 * Expand a template into out (NUL-terminated). [[ and ]] mark the secret:
 * *ss and *se get its offsets (RE_NOPOS when absent). Returns the length,
 * or (size_t)-1 when the template is malformed or out is too small.
 */
static size_t expand(const char *tpl, char *out, size_t cap, size_t *ss, size_t *se)
{
	size_t n = 0;
	const char *p = tpl;

	*ss = *se = RE_NOPOS;
	while (*p) {
		if (p[0] == '[' && p[1] == '[') {
			*ss = n;
			p += 2;
			continue;
		}
		if (p[0] == ']' && p[1] == ']') {
			*se = n;
			p += 2;
			continue;
		}
		if (p[0] == '{' && p[1] >= '0' && p[1] <= '9') {
			const char *q = p + 1, *close;
			size_t count = 0, k, nset;
			char set[256];

			while (*q >= '0' && *q <= '9')
				count = count * 10 + (size_t)(*q++ - '0');
			if (*q == ':' && (close = strchr(q, '}')) != NULL) {
				nset = parse_class(q + 1, close, set, sizeof set);
				if (!nset || n + count + 1 > cap)
					return (size_t)-1;
				for (k = 0; k < count; k++)
					out[n++] = set[rng() % nset];
				p = close + 1;
				continue;
			}
		}
		if (n + 2 > cap)
			return (size_t)-1;
		out[n++] = *p++;
	}
	out[n] = 0;
	return n;
}

/* ---- the engine's checks, done here directly with lib/re ---- */

/* Shannon entropy of p[0..n) in bits per byte (what the engine's scan_entropy computes). */
static double entropy(const char *p, size_t n)
{
	size_t count[256] = { 0 }, i;
	double h = 0;

	if (!n)
		return 0;
	for (i = 0; i < n; i++)
		count[(unsigned char)p[i]]++;
	for (i = 0; i < 256; i++)
		if (count[i]) {
			double q = (double)count[i] / (double)n;

			h -= q * log2(q);
		}
	return h;
}

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* Does the comma-separated list of lower-case words have one inside s[0..n) (ASCII case-insensitively)? */
static int has_word(const char *list, const char *s, size_t n, size_t *at, size_t *wlen)
{
	const char *p = list;

	while (p && *p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p), i, j;

		for (i = 0; len && i + len <= n; i++) {
			for (j = 0; j < len && lower((unsigned char)s[i + j]) == p[j]; j++)
				;
			if (j == len) {
				if (at)
					*at = i;
				if (wlen)
					*wlen = len;
				return 1;
			}
		}
		p = end ? end + 1 : NULL;
	}
	return 0;
}

struct compiled {
	const struct scan_rule_def *def;
	struct re *re, *allow, *allow_match;
};

static struct compiled *rules;

/* Why a match (m[0..mlen)) is not a finding, or NULL when it is one. */
static const char *rejected(const struct compiled *c, const char *sec, size_t slen, const char *m, size_t mlen)
{
	if (slen == 0)
		return "empty secret";
	if (c->allow_match && re_search(c->allow_match, m, mlen, 0, NULL))
		return "match allowlist";
	if (c->def->entropy > 0 && entropy(sec, slen) < c->def->entropy)
		return "entropy";
	if (c->allow && re_search(c->allow, sec, slen, 0, NULL))
		return "allowlist";
	if (c->def->stopwords && has_word(c->def->stopwords, sec, slen, NULL, NULL))
		return "stopword";
	return NULL;
}

struct finding {
	size_t start, end;   /* the secret */
	size_t mstart, mend; /* the whole match */
};

/*
 * Findings of one rule over s[0..n) as the engine reports them: only when a
 * keyword occurs, matches in order, each one's secret through entropy,
 * allowlist and stopwords. Fills up to max findings; returns how many.
 */
static size_t run_rule(const struct compiled *c, const char *s, size_t n, struct finding *out, size_t max)
{
	size_t pos = 0, nf = 0;
	struct re_match m;

	if (!has_word(c->def->keywords, s, n, NULL, NULL))
		return 0;
	while (pos <= n && re_search(c->re, s, n, pos, &m)) {
		unsigned g = c->def->secret_group < m.ngroups ? c->def->secret_group : 0;
		struct re_span sp = m.group[g].start == RE_NOPOS ? m.group[0] : m.group[g];

		pos = m.group[0].end > m.group[0].start ? m.group[0].end : m.group[0].start + 1;
		if (rejected(c, s + sp.start, sp.end - sp.start, s + m.group[0].start, m.group[0].end - m.group[0].start))
			continue;
		if (nf < max)
			out[nf] = (struct finding){ sp.start, sp.end, m.group[0].start, m.group[0].end };
		nf++;
	}
	return nf;
}

static const struct compiled *find_rule(const char *id)
{
	size_t i;

	for (i = 0; i < scan_builtin_count; i++)
		if (!strcmp(scan_builtin_rules[i].id, id))
			return &rules[i];
	return NULL;
}

static void show(const char *label, const char *s, size_t n)
{
	size_t i;

	printf("#   %s: '", label);
	for (i = 0; i < n && i < 400; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\n')
			printf("\\n");
		else if (c == '\r')
			printf("\\r");
		else if (c == '\t')
			printf("\\t");
		else if (c < 0x20 || c >= 0x7f)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
	printf("%s'\n", n > 400 ? "..." : "");
}

static int compile_all(void)
{
	size_t i;
	int bad = 0;

	rules = calloc(scan_builtin_count, sizeof *rules);
	if (!rules)
		return -1;
	for (i = 0; i < scan_builtin_count; i++) {
		const struct scan_rule_def *d = &scan_builtin_rules[i];
		struct bb_err e = { 0 };

		rules[i].def = d;
		if (re_compile(d->regex, strlen(d->regex), 0, &rules[i].re, &e) < 0) {
			printf("#   rule %s: regex: %s\n", d->id, e.msg);
			bad = 1;
		}
		if (d->allow_regex && re_compile(d->allow_regex, strlen(d->allow_regex), 0, &rules[i].allow, &e) < 0) {
			printf("#   rule %s: allow_regex: %s\n", d->id, e.msg);
			bad = 1;
		}
		if (d->allow_match && re_compile(d->allow_match, strlen(d->allow_match), 0, &rules[i].allow_match, &e) < 0) {
			printf("#   rule %s: allow_match: %s\n", d->id, e.msg);
			bad = 1;
		}
	}
	return bad ? -1 : 0;
}

static void free_all(void)
{
	size_t i;

	for (i = 0; rules && i < scan_builtin_count; i++) {
		re_free(rules[i].re);
		re_free(rules[i].allow);
		re_free(rules[i].allow_match);
	}
	free(rules);
	rules = NULL;
}

/* ---- table hygiene ---- */

static int kebab(const char *s)
{
	const char *p;

	if (!s || !*s || *s == '-')
		return 0;
	for (p = s; *p; p++) {
		if (*p == '-') {
			if (p[1] == '-' || p[1] == 0)
				return 0;
		} else if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'))) {
			return 0;
		}
	}
	return 1;
}

/* Each comma-separated item non-empty and without upper-case letters. */
static int lower_list(const char *list)
{
	const char *p;
	size_t item = 0;

	if (!list || !*list)
		return 0;
	for (p = list;; p++) {
		if (*p == ',' || *p == 0) {
			if (!item)
				return 0;
			if (!*p)
				return 1;
			item = 0;
			continue;
		}
		if (*p >= 'A' && *p <= 'Z')
			return 0;
		item++;
	}
}

static void table(void)
{
	size_t i, j;

	T_CHECK(scan_builtin_count >= 110);
	printf("#   %zu built-in rules\n", scan_builtin_count);
	for (i = 0; i < scan_builtin_count; i++) {
		const struct scan_rule_def *d = &scan_builtin_rules[i];
		const char *why = NULL;
		unsigned mode;

		if (!kebab(d->id))
			why = "id is not kebab-case";
		else if (!d->description || !*d->description || strchr(d->description, '\n'))
			why = "description missing or not one line";
		else if (!lower_list(d->keywords))
			why = "keywords missing, empty or not lower-case";
		else if (d->stopwords && !lower_list(d->stopwords))
			why = "stopwords empty or not lower-case";
		else if (d->entropy < 0 || d->entropy > 8)
			why = "entropy outside 0..8";
		for (j = 0; !why && j < i; j++)
			if (!strcmp(scan_builtin_rules[j].id, d->id))
				why = "duplicate id";
		for (mode = 0; !why && mode < 2; mode++) {
			struct re *re = NULL;
			struct bb_err e = { 0 };

			if (re_compile(d->regex, strlen(d->regex), mode ? RE_NODFA : 0, &re, &e) < 0) {
				printf("#   rule ID: %s: %s\n", d->id, e.msg);
				why = "regex does not compile";
			} else if (d->secret_group > re_ngroups(re)) {
				why = "secret_group is larger than the number of groups";
			}
			re_free(re);
		}
		if (!why && d->allow_regex) {
			struct re *re = NULL;

			if (re_compile(d->allow_regex, strlen(d->allow_regex), 0, &re, NULL) < 0)
				why = "allow_regex does not compile";
			re_free(re);
		}
		if (why) {
			printf("#   rule ID: %s: %s\n", d->id ? d->id : "(null)", why);
			t_failed_case = 1;
		}
	}
}

/* Every rule has a case, every case names a rule. */
static void cases_cover_table(void)
{
	size_t i, j;

	for (i = 0; i < scan_builtin_count; i++) {
		for (j = 0; j < sizeof cases / sizeof cases[0]; j++)
			if (!strcmp(cases[j].id, scan_builtin_rules[i].id) && cases[j].tp && cases[j].tn)
				break;
		if (j == sizeof cases / sizeof cases[0]) {
			printf("#   rule ID: %s: no true-positive/near-miss case\n", scan_builtin_rules[i].id);
			t_failed_case = 1;
		}
	}
	for (j = 0; j < sizeof cases / sizeof cases[0]; j++)
		if (!find_rule(cases[j].id)) {
			printf("#   case names unknown rule ID: %s\n", cases[j].id);
			t_failed_case = 1;
		}
	for (j = 0; j < sizeof extra_cases / sizeof extra_cases[0]; j++)
		if (!find_rule(extra_cases[j].id)) {
			printf("#   extra case names unknown rule ID: %s\n", extra_cases[j].id);
			t_failed_case = 1;
		}
}

/* ---- true positives and near misses ---- */

#define SPAN_BEFORE 256   /* the engine's context before a keyword */
#define SPAN_AFTER 1024   /* ... and after it */
#define SPAN_KEYS 16384   /* ... after it, for private-key blocks */

/* The TP must be reported with exactly the marked secret, from a window the engine would search. */
static int check_tp(const struct compiled *c, const char *tpl, unsigned round)
{
	static char text[8192];
	struct finding f[8];
	size_t ss, se, n, nf, i, at = 0, wl = 0;

	n = expand(tpl, text, sizeof text, &ss, &se);
	if (n == (size_t)-1 || ss == RE_NOPOS || se == RE_NOPOS) {
		printf("#   rule ID: %s: bad TP template\n", c->def->id);
		return -1;
	}
	nf = run_rule(c, text, n, f, 8);
	for (i = 0; i < nf && i < 8; i++)
		if (f[i].start == ss && f[i].end == se)
			break;
	if (i == nf || i == 8) {
		struct re_match m;

		printf("#   rule ID: %s: true positive not reported (round %u)\n", c->def->id, round);
		show("text", text, n);
		show("secret", text + ss, se - ss);
		if (!has_word(c->def->keywords, text, n, NULL, NULL))
			printf("#   no keyword in the text\n");
		else if (!re_search(c->re, text, n, 0, &m))
			printf("#   the regex does not match\n");
		else {
			unsigned g = c->def->secret_group < m.ngroups ? c->def->secret_group : 0;

			printf("#   first match %zu..%zu, secret %zu..%zu (want %zu..%zu), rejected by: %s\n",
			       m.group[0].start, m.group[0].end, m.group[g].start, m.group[g].end, ss, se,
			       rejected(c, text + m.group[g].start, m.group[g].end - m.group[g].start, text + m.group[0].start,
					m.group[0].end - m.group[0].start)
				       ? rejected(c, text + m.group[g].start, m.group[g].end - m.group[g].start,
						  text + m.group[0].start, m.group[0].end - m.group[0].start)
				       : "nothing");
		}
		return -1;
	}
	/* A keyword inside the match, close enough that the engine's window around it covers the match. */
	if (!has_word(c->def->keywords, text + f[i].mstart, f[i].mend - f[i].mstart, &at, &wl)) {
		printf("#   rule ID: %s: no keyword inside the match\n", c->def->id);
		show("match", text + f[i].mstart, f[i].mend - f[i].mstart);
		return -1;
	}
	if (f[i].mend - (f[i].mstart + at + wl) > (strstr(c->def->regex, "PRIVATE KEY") ? SPAN_KEYS : SPAN_AFTER) ||
	    at > SPAN_BEFORE) {
		printf("#   rule ID: %s: the match reaches outside the engine's window around its keyword\n", c->def->id);
		return -1;
	}
	return 0;
}

static int check_tn(const struct compiled *c, const char *tpl)
{
	static char text[8192];
	struct finding f[4];
	size_t ss, se, n, nf;

	n = expand(tpl, text, sizeof text, &ss, &se);
	if (n == (size_t)-1) {
		printf("#   rule ID: %s: bad TN template\n", c->def->id);
		return -1;
	}
	nf = run_rule(c, text, n, f, 4);
	if (nf) {
		printf("#   rule ID: %s: near miss reported\n", c->def->id);
		show("text", text, n);
		show("secret", text + f[0].start, f[0].end - f[0].start);
		return -1;
	}
	return 0;
}

static void run_cases(const struct rule_case *cs, size_t ncases)
{
	size_t i;
	unsigned round;

	/* Several rounds: different random secrets each time, same seed each run. */
	for (round = 0; round < 4; round++)
		for (i = 0; i < ncases; i++) {
			const struct compiled *c = find_rule(cs[i].id);

			if (!c || !c->re)
				continue; /* reported by table() and cases_cover_table() */
			if (cs[i].tp && check_tp(c, cs[i].tp, round) < 0)
				t_failed_case = 1;
			if (cs[i].tn && check_tn(c, cs[i].tn) < 0)
				t_failed_case = 1;
		}
}

static void true_positives_and_near_misses(void)
{
	run_cases(cases, sizeof cases / sizeof cases[0]);
}

static void more_forms(void)
{
	run_cases(extra_cases, sizeof extra_cases / sizeof extra_cases[0]);
}

/* ---- the same cases through the engine itself ---- */

struct hit_list {
	size_t n;
	struct {
		char id[64];
		uint64_t off;
		size_t len;
	} f[32];
};

static int collect_hit(const struct scan_finding *f, void *arg)
{
	struct hit_list *h = arg;

	if (h->n < 32) {
		snprintf(h->f[h->n].id, sizeof h->f[h->n].id, "%s", f->id);
		h->f[h->n].off = f->offset;
		h->f[h->n].len = f->length;
		h->n++;
	}
	return 0;
}

/* Does the reference (run_rule above, lib/re directly) not report [ss, se) either? */
static int reference_misses(const char *id, const char *text, size_t n, size_t ss, size_t se)
{
	const struct compiled *c = find_rule(id);
	struct finding f[8];
	size_t nf, i;

	if (!c || !c->re)
		return 0;
	nf = run_rule(c, text, n, f, 8);
	for (i = 0; i < nf && i < 8; i++)
		if (f[i].start == ss && f[i].end == se)
			return 0;
	return 1;
}

/*
 * Every true positive is reported by the engine (keyword automaton,
 * keyword-bounded or windowed search, streams), whole and split in two at
 * a random byte, and no near miss is, under the rule's own id.
 */
static void engine_reports_cases(void)
{
	const struct rule_case *sets[2] = { cases, extra_cases };
	size_t nsets[2] = { sizeof cases / sizeof cases[0], sizeof extra_cases / sizeof extra_cases[0] };
	struct scan_engine *eng = NULL;
	struct scan_stream *st = NULL;
	static char text[8192];
	size_t k, i, j, bad = 0;

	T_CHECK(scan_engine_new(&eng, NULL) == 0 && scan_engine_finish(eng, NULL) == 0 &&
		scan_stream_new(&st, eng, SCAN_TOKEN_PATTERNS, NULL) == 0);
	if (!st)
		goto out;
	for (k = 0; k < 2; k++)
		for (i = 0; i < nsets[k]; i++) {
			const struct rule_case *c = &sets[k][i];
			size_t ss, se, n, split, pass;

			for (pass = 0; pass < 2; pass++) {
				const char *tpl = pass ? c->tn : c->tp;
				struct hit_list h = { 0 };
				int found = 0;

				if (!tpl)
					continue;
				n = expand(tpl, text, sizeof text, &ss, &se);
				if (n == (size_t)-1)
					continue; /* reported by true_positives_and_near_misses */
				split = rng() % (n + 1);
				scan_stream_reset(st);
				scan_feed(st, text, split, collect_hit, &h);
				scan_feed(st, text + split, n - split, collect_hit, &h);
				scan_end(st, collect_hit, &h);
				for (j = 0; j < h.n; j++)
					if (!strcmp(h.f[j].id, c->id))
						found = pass || (h.f[j].off == ss && h.f[j].len == se - ss);
				/* A random secret can fall under the entropy floor: then the rule itself does not report it. */
				if (!pass && !found && reference_misses(c->id, text, n, ss, se))
					continue;
				if (found == (int)pass) {
					printf("#   rule ID: %s: the engine %s (split at %zu)\n", c->id,
					       pass ? "reports the near miss" : "misses the true positive", split);
					show("text", text, n);
					bad++;
				}
			}
		}
	T_CHECK(bad == 0);
out:
	scan_stream_free(st);
	scan_engine_free(eng);
}

/* ---- categories ---- */

struct category {
	const char *name;
	const char *prefixes; /* comma-separated id prefixes ("jwt" matches the id exactly too) */
	size_t min;           /* at least this many rules */
};

static const struct category categories[] = {
	{ "cloud", "aws-,gcp-,google-,azure-,digitalocean-,alibaba-,ibm-,heroku-,cloudflare-,tencent-,scaleway-,linode-,"
		   "hetzner-,yandex-,vultr-",
	  15 },
	{ "vcs", "github-,gitlab-,bitbucket-,gitea-", 12 },
	{ "ci", "circleci-,travis-,buildkite-,drone-,jenkins-,codecov-,sonarqube-,harness-", 5 },
	{ "chat", "slack-,discord-,telegram-,microsoft-teams-,mattermost-,zulip-", 8 },
	{ "payment", "stripe-,square-,braintree-,paypal-,adyen-,razorpay-,plaid-,flutterwave-,gocardless-", 6 },
	{ "llm", "openai-,anthropic-,cohere-,huggingface-,replicate-,groq-,mistral-,perplexity-,xai-,openrouter-,"
		 "deepseek-,langsmith-,pinecone-,elevenlabs-",
	  10 },
	{ "registry", "npm-,pypi-,rubygems-,nuget-,docker-,crates-io-,clojars-,artifactory-,gradle-", 6 },
	{ "saas", "twilio-,sendgrid-,mailgun-,mailchimp-,shopify-,atlassian-,linear-,notion-,datadog-,newrelic-,sentry-,"
		  "grafana-,vault-,doppler-,postman-,figma-,okta-,asana-,dropbox-,databricks-,snyk-,pulumi-,terraform-,"
		  "flyio-,vercel-,netlify-,supabase-,planetscale-,onepassword-,age-,dynatrace-,shippo-,brevo-,mapbox-,"
		  "airtable-,typeform-,readme-,prefect-,ngrok-,hubspot-,pagerduty-,algolia-,zendesk-,twitter-,facebook-,"
		  "easypost-,duffel-",
	  30 },
	{ "private-key", "private-key-", 6 },
	{ "jwt", "jwt", 1 },
	{ "generic", "generic-", 1 },
	{ "url", "url-", 1 },
};

#define NCATEGORIES (sizeof categories / sizeof categories[0])

static int in_category(const char *id, const struct category *cat)
{
	const char *p = cat->prefixes;

	while (p && *p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (!strncmp(id, p, len) && (p[len - 1] == '-' || id[len] == 0 || id[len] == '-'))
			return 1;
		p = end ? end + 1 : NULL;
	}
	return 0;
}

/* Ids the brief names: each must exist. */
static const char *const required_ids[] = {
	"aws-access-key-id", "aws-secret-access-key", "gcp-api-key", "gcp-service-account-key-id",
	"azure-storage-account-key", "digitalocean-pat", "alibaba-access-key-id", "ibm-cloud-api-key", "heroku-api-key",
	"cloudflare-api-token", "github-pat", "github-fine-grained-pat", "github-oauth-token",
	"github-app-installation-token", "github-refresh-token", "gitlab-pat", "gitlab-pipeline-trigger-token",
	"gitlab-runner-auth-token", "gitlab-deploy-token", "bitbucket-app-password", "gitea-access-token",
	"circleci-pat", "travis-ci-token", "buildkite-api-token", "drone-ci-token", "slack-bot-token",
	"slack-user-token", "slack-app-token", "slack-webhook-url", "discord-bot-token", "discord-webhook-url",
	"telegram-bot-token", "microsoft-teams-webhook", "mattermost-access-token", "stripe-secret-key",
	"stripe-test-secret-key", "stripe-restricted-key", "square-access-token", "braintree-access-token",
	"adyen-api-key", "openai-api-key", "openai-project-key", "anthropic-api-key", "anthropic-admin-key",
	"cohere-api-key", "huggingface-token", "replicate-api-token", "groq-api-key", "mistral-api-key",
	"perplexity-api-key", "gcp-api-key", "npm-access-token", "pypi-upload-token", "rubygems-api-key",
	"nuget-api-key", "docker-hub-token", "crates-io-token", "twilio-api-key", "sendgrid-api-key",
	"mailgun-api-key", "mailchimp-api-key", "shopify-access-token", "shopify-shared-secret", "atlassian-api-token",
	"linear-api-key", "notion-api-token", "notion-legacy-token", "datadog-api-key", "newrelic-user-api-key",
	"sentry-org-token", "sentry-user-token", "grafana-cloud-token", "grafana-service-account-token",
	"vault-service-token", "vault-batch-token", "doppler-token", "postman-api-key", "figma-pat", "okta-api-token",
	"asana-pat", "dropbox-access-token", "databricks-token", "snyk-api-token", "pulumi-access-token",
	"terraform-cloud-token", "flyio-token", "vercel-token", "netlify-pat", "supabase-pat", "planetscale-token",
	"onepassword-service-account-token", "age-secret-key", "private-key-rsa", "private-key-ec", "private-key-dsa",
	"private-key-openssh", "private-key-pgp", "private-key-pkcs8", "jwt", "generic-api-key", "url-credentials",
};

static void categories_covered(void)
{
	size_t count[NCATEGORIES] = { 0 }, i, k;

	for (i = 0; i < scan_builtin_count; i++) {
		const char *id = scan_builtin_rules[i].id;
		size_t hits = 0;

		for (k = 0; k < NCATEGORIES; k++)
			if (in_category(id, &categories[k])) {
				count[k]++;
				hits++;
			}
		if (hits != 1) {
			printf("#   rule ID: %s: in %zu categories (want exactly 1)\n", id, hits);
			t_failed_case = 1;
		}
	}
	for (k = 0; k < NCATEGORIES; k++) {
		printf("#   category %-12s %3zu rules\n", categories[k].name, count[k]);
		if (count[k] < categories[k].min) {
			printf("#   category %s: %zu rules, want at least %zu\n", categories[k].name, count[k],
			       categories[k].min);
			t_failed_case = 1;
		}
	}
	for (i = 0; i < sizeof required_ids / sizeof required_ids[0]; i++)
		if (!find_rule(required_ids[i])) {
			printf("#   missing rule ID: %s\n", required_ids[i]);
			t_failed_case = 1;
		}
}

/* ---- ordinary text must not be reported ---- */

static const char *const words[] = {
	"the", "of", "and", "to", "in", "is", "that", "for", "it", "as", "was", "with", "be", "by", "on", "not",
	"he", "this", "are", "or", "his", "from", "at", "which", "but", "have", "an", "had", "they", "you", "were",
	"their", "one", "all", "we", "can", "her", "has", "there", "been", "if", "more", "when", "will", "would",
	"who", "so", "no", "key", "token", "secret", "password", "access", "auth", "credential", "api", "bearer",
	"basic", "session", "private", "public", "signature", "cloud", "server", "client", "request", "response",
	"library", "function", "buffer", "parser", "stream", "commit", "branch", "merge", "release", "version",
	"Asia", "Europe", "circle", "drone", "plaid", "linear", "together", "travis", "heroku", "slack", "discord",
};

static const char *const code_lines[] = {
	"int x = 42;",
	"for (i = 0; i < n; i++)",
	"const char *key = argv[1];",
	"token = next_token(&p);",
	"if (password == NULL) return -1;",
	"size_t keylen = strlen(key);",
	"struct passwd *pw = getpwnam(user);",
	"secret = load_secret(path, &len, err);",
	"auth_type = AUTH_BASIC;",
	"api_key: ${API_KEY}",
	"password: \"${{ secrets.DB_PASSWORD }}\"",
	"self.access_token = access_token",
	"credentials = get_credentials(ctx)",
	"#define MAX_KEY_LEN 256",
	"key = hash_key(table, key_len);",
	"token_type: \"bearer\"",
	"ssh-keygen -t ed25519 -C user@example.com",
	"git push origin main",
	"ret = git_remote_fetch(remote, NULL, &opts, NULL);",
	"return memcmp(a->key, b->key, KEY_SIZE) == 0;",
};

static const char *const urls[] = {
	"https://example.com/path?q=1&page=2",
	"http://localhost:8080/api/v1/items",
	"git@github.com:org/repo.git",
	"ssh://git@example.com:22/srv/repo.git",
	"https://github.com/org/repo/commit/",
	"ftp://mirror.example.org/pub/debian/",
	"https://hooks.example.com/services/build",
	"https://discord.com/channels/123456/7890",
	"mailto:someone@example.com",
};

/* Append s to the buffer; returns the new length. */
static size_t put(char *buf, size_t n, size_t cap, const char *s)
{
	size_t l = strlen(s);

	if (n + l + 1 > cap)
		return n;
	memcpy(buf + n, s, l);
	buf[n + l] = 0;
	return n + l;
}

/* ---- the same findings however the text is cut ---- */

struct flist {
	size_t n, cap;
	char (*line)[SCAN_EXCERPT_MAX + 200];
};

static int collect_line(const struct scan_finding *f, void *arg)
{
	struct flist *l = arg;

	if (l->n < l->cap)
		snprintf(l->line[l->n], sizeof l->line[0], "%012llu %s %zu %u %s [%s]", (unsigned long long)f->offset,
			 f->id, f->length, f->line, f->excerpt, f->decoded ? f->decoded : "");
	l->n++;
	return 0;
}

static int cmp_line(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Scan text with every rule and the decoders, fed in pieces of `piece` bytes; the findings sorted. */
static void findings_of(struct scan_engine *eng, const char *text, size_t n, size_t piece, struct flist *l)
{
	struct scan_stream *st = NULL;
	size_t off;

	l->n = 0;
	if (scan_stream_new(&st, eng, SCAN_TOKEN_PATTERNS | SCAN_KNOWN_SECRETS | SCAN_DECODE, NULL) < 0)
		return;
	for (off = 0; off < n; off += piece)
		scan_feed(st, text + off, n - off < piece ? n - off : piece, collect_line, l);
	scan_end(st, collect_line, l);
	scan_stream_free(st);
	qsort(l->line, l->n < l->cap ? l->n : l->cap, sizeof l->line[0], cmp_line);
}

/*
 * A corpus of keyword-dense prose and code with every true positive and
 * near miss of the tables in it (each also base64-wrapped): the findings
 * are the same, in full (offset, rule, length, line, excerpt, decoding),
 * fed whole (long inputs: the keyword automaton's interleaved lanes) and
 * in 3000-byte pieces (short inputs: the automaton byte after byte, as it
 * ran before the lanes).
 */
static void same_findings_however_fed(void)
{
	const struct rule_case *sets[2] = { cases, extra_cases };
	size_t nsets[2] = { sizeof cases / sizeof cases[0], sizeof extra_cases / sizeof extra_cases[0] };
	enum { CAP = 2 * 1024 * 1024 };
	char *buf = malloc(CAP), one[8192], wrapped[12000];
	struct flist whole = { 0, 4096, NULL }, cut = { 0, 4096, NULL };
	struct scan_engine *eng = NULL;
	size_t n = 0, k, i, j, tps = 0, diff = 0;

	whole.line = calloc(whole.cap, sizeof whole.line[0]);
	cut.line = calloc(cut.cap, sizeof cut.line[0]);
	T_CHECK(buf && whole.line && cut.line && scan_engine_new(&eng, NULL) == 0 && scan_engine_finish(eng, NULL) == 0);
	if (!buf || !whole.line || !cut.line || !eng)
		goto out;
	buf[0] = 0;
	for (k = 0; k < 2; k++)
		for (i = 0; i < nsets[k]; i++) {
			const char *tpl[2] = { sets[k][i].tp, sets[k][i].tn };
			size_t pass, ss, se, m;

			for (pass = 0; pass < 2; pass++) {
				if (!tpl[pass] || (m = expand(tpl[pass], one, sizeof one, &ss, &se)) == (size_t)-1)
					continue;
				tps += !pass;
				for (j = 0; j < 40; j++) { /* a keyword every few words, code between */
					n = put(buf, n, CAP, words[rng() % (sizeof words / sizeof words[0])]);
					n = put(buf, n, CAP, j % 9 == 8 ? "\n" : " ");
					if (j % 13 == 12) {
						n = put(buf, n, CAP, code_lines[rng() % (sizeof code_lines / sizeof code_lines[0])]);
						n = put(buf, n, CAP, "\n");
					}
				}
				one[m] = 0;
				n = put(buf, n, CAP, one);
				n = put(buf, n, CAP, "\n");
				if (i % 3 == 0 && b64_encode(one, m, 0, wrapped, sizeof wrapped, NULL, NULL) == 0) {
					n = put(buf, n, CAP, "blob: ");
					n = put(buf, n, CAP, wrapped);
					n = put(buf, n, CAP, "\n");
				}
			}
		}
	findings_of(eng, buf, n, n, &whole);
	findings_of(eng, buf, n, 3000, &cut);
	T_CHECK(whole.n < whole.cap && n > 128 * 1024);
	/* the corpus holds the true positives: at least one finding for most of them */
	T_CHECK(whole.n >= tps / 2);
	for (i = 0; i < whole.n && i < cut.n && i < whole.cap; i++)
		if (strcmp(whole.line[i], cut.line[i])) {
			if (!diff)
				printf("#   %zu: whole: %s\n#   %zu: cut:   %s\n", i, whole.line[i], i, cut.line[i]);
			diff++;
		}
	if (whole.n != cut.n)
		printf("#   %zu findings whole, %zu in pieces\n", whole.n, cut.n);
	printf("#   %zu bytes, %zu true positives in the tables, %zu findings\n", n, tps, whole.n);
	T_CHECK(diff == 0 && whole.n == cut.n);
out:
	free(whole.line);
	free(cut.line);
	free(buf);
	scan_engine_free(eng);
}

/* Rules allowed to fire on the ordinary text below, with the reason (none today). */
static const char *const expected_on_prose[] = { NULL };

static void quiet_on_ordinary_text(void)
{
	enum { CAP = 64 * 1024 };
	char *buf = malloc(CAP);
	size_t n = 0, i, total = 0;
	char tmp[512];

	if (!buf) {
		T_CHECK(buf != NULL);
		return;
	}
	buf[0] = 0;
	rng_state = 0x2545f4914f6cdd1dull;
	while (n < 20 * 1024) {
		unsigned kind = (unsigned)(rng() % 8), k;
		size_t ss, se;

		switch (kind) {
		case 0:
		case 1:
		case 2: /* a sentence */
			for (k = 0; k < 8 + rng() % 12; k++) {
				n = put(buf, n, CAP, k ? " " : "");
				n = put(buf, n, CAP, words[rng() % (sizeof words / sizeof words[0])]);
			}
			n = put(buf, n, CAP, ".\n");
			break;
		case 3: /* a line of code */
			n = put(buf, n, CAP, "\t");
			n = put(buf, n, CAP, code_lines[rng() % (sizeof code_lines / sizeof code_lines[0])]);
			n = put(buf, n, CAP, "\n");
			break;
		case 4: /* a UUID and a commit id */
			expand("request id " T_UUID ", commit {40:0-9a-f}\n", tmp, sizeof tmp, &ss, &se);
			n = put(buf, n, CAP, tmp);
			break;
		case 5: { /* base64 of a small random blob */
			unsigned char blob[48];
			char enc[80];
			size_t bl = 6 + rng() % 42, el;

			for (k = 0; k < bl; k++)
				blob[k] = (unsigned char)rng();
			if (b64_encode(blob, bl, B64_PAD, enc, sizeof enc, &el, NULL) == 0) {
				n = put(buf, n, CAP, "data ");
				n = put(buf, n, CAP, enc);
				n = put(buf, n, CAP, "\n");
			}
			break;
		}
		case 6: /* a URL without credentials */
			n = put(buf, n, CAP, "see ");
			n = put(buf, n, CAP, urls[rng() % (sizeof urls / sizeof urls[0])]);
			n = put(buf, n, CAP, "\n");
			break;
		default: /* numbers and hex, as in logs */
			expand("took {3:0-9}ms, size {5:0-9}, sha256 {64:0-9a-f}, addr 0x{12:0-9a-f}\n", tmp, sizeof tmp,
			       &ss, &se);
			n = put(buf, n, CAP, tmp);
			break;
		}
	}
	for (i = 0; i < scan_builtin_count; i++) {
		struct finding f[4];
		size_t nf = rules[i].re ? run_rule(&rules[i], buf, n, f, 4) : 0, k;

		for (k = 0; expected_on_prose[k]; k++)
			if (!strcmp(expected_on_prose[k], rules[i].def->id))
				break;
		if (nf && !expected_on_prose[k]) {
			printf("#   rule ID: %s: %zu findings in ordinary text\n", rules[i].def->id, nf);
			show("first", buf + f[0].mstart, f[0].mend - f[0].mstart);
			t_failed_case = 1;
		}
		total += nf;
	}
	printf("#   %zu bytes of ordinary text, %zu findings\n", n, total);
	free(buf);
}

int main(void)
{
	compile_all(); /* failures are reported by table() */
	T_RUN(table);
	T_RUN(cases_cover_table);
	T_RUN(true_positives_and_near_misses);
	T_RUN(more_forms);
	T_RUN(engine_reports_cases);
	T_RUN(categories_covered);
	T_RUN(quiet_on_ordinary_text);
	T_RUN(same_findings_however_fed);
	free_all();
	T_END();
}
