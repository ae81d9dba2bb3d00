"""A Bedrock Knowledge Base on Amazon S3 Vectors, loaded with a corpus and ingested on deploy."""

from __future__ import annotations

import hashlib
from pathlib import Path

from aws_cdk import Duration, Names, RemovalPolicy, Stack
from aws_cdk import aws_bedrock as bedrock
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3vectors as s3vectors
from aws_cdk import custom_resources as cr
from constructs import Construct

from llm_observability import checkov
from llm_observability.compliance_profile import harden_bucket
from llm_observability.constructs._common import (
    PACKAGE_DIR,
    access_logs_bucket,
    bedrock_principal,
    function_role,
    model_arns,
)
from llm_observability.nag import acknowledge

DEFAULT_CORPUS_DIR = PACKAGE_DIR / "corpus"
DOCS_PREFIX = "docs/"
# Bedrock writes these keys with every vector; they exceed the filterable-metadata size
# limit of S3 Vectors, so they must be declared non-filterable on the index.
_BEDROCK_METADATA_KEYS = ["AMAZON_BEDROCK_TEXT", "AMAZON_BEDROCK_METADATA"]


def corpus_fingerprint(corpus_dir: Path) -> str:
    """SHA-256 over the corpus files' names and bytes: a new value re-runs ingestion on deploy."""
    digest = hashlib.sha256()
    for path in sorted(p for p in corpus_dir.rglob("*") if p.is_file()):
        digest.update(path.relative_to(corpus_dir).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


MAX_CORPUS_BYTES = 200_000  # the documents travel in the template (CloudFormation allows 1 MB)
_CONTENT_TYPES = {".md": "text/markdown", ".txt": "text/plain", ".html": "text/html", ".csv": "text/csv", ".json": "application/json"}


def _content_type(key: str) -> str:
    return _CONTENT_TYPES.get(Path(key).suffix.lower(), "text/plain")


def _corpus_documents(corpus_dir: Path) -> list[tuple[str, str]]:
    """(key, text) of every file of the corpus; small UTF-8 text files only."""
    documents, total = [], 0
    for path in sorted(p for p in corpus_dir.rglob("*") if p.is_file()):
        key = path.relative_to(corpus_dir).as_posix()
        if Path(key).suffix.lower() not in _CONTENT_TYPES:
            raise ValueError(
                f"SampleKnowledgeBase 'corpus_dir' has {key}: allowed are {', '.join(sorted(_CONTENT_TYPES))} files "
                "(bring your own knowledge base for other formats)."
            )
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"SampleKnowledgeBase 'corpus_dir' has {key}: allowed is UTF-8 text.") from None
        total += len(text.encode())
        documents.append((key, text))
    if total > MAX_CORPUS_BYTES:
        raise ValueError(
            f"SampleKnowledgeBase 'corpus_dir' holds {total:,} bytes: allowed are {MAX_CORPUS_BYTES:,} "
            "(a sample corpus; bring your own knowledge base for more)."
        )
    return documents


class SampleKnowledgeBase(Construct):
    """A Bedrock Knowledge Base whose vectors live in Amazon S3 Vectors (no idle cost).

    Creates a TLS-only corpus bucket with server access logs, uploads ``corpus_dir`` under
    ``docs/``, an S3 vector bucket and index sized for the embedding model, the knowledge base
    with an S3 data source, and starts an ingestion job on every deploy that changes the corpus.

    :param embedding_model_id: Bedrock embedding model (Titan Text Embeddings V2 recommended).
    :param dimensions: embedding size, must match the model's output (256, 512 or 1024).
    :param log_key: KMS key for the log groups of the helper functions.
    :param log_retention_days: retention of those log groups and of the access logs, in days.
    :param corpus_dir: folder of documents to load. Default: the sample corpus shipped with the package.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        embedding_model_id: str,
        dimensions: int,
        log_key: kms.IKey,
        log_retention_days: int,
        corpus_dir: Path = DEFAULT_CORPUS_DIR,
    ) -> None:
        super().__init__(scope, id)
        if not corpus_dir.is_dir() or not any(p.is_file() for p in corpus_dir.rglob("*")):
            raise ValueError(f"SampleKnowledgeBase 'corpus_dir' {corpus_dir} has no files: allowed is a folder of documents.")

        access_logs = access_logs_bucket(self, "AccessLogs", expiration_days=max(log_retention_days, 90))
        self.corpus_bucket = s3.Bucket(
            self,
            "Corpus",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="corpus/",
            removal_policy=RemovalPolicy.DESTROY,
        )
        harden_bucket(self.corpus_bucket)
        checkov.skip(
            self.corpus_bucket, "CKV_AWS_21",
            "The sample corpus is written by this stack from the package's files (the repository is its history) and "
            "deleted with it; versions would be left behind and stop the stack's deletion.",
        )  # fmt: skip

        # --- one role and log group for the corpus custom resources (upload, ingestion) -----------
        self.corpus_role, corpus_logs = function_role(
            self, "Corpus", key=log_key, retention_days=log_retention_days,
            description="Writes the sample corpus into the knowledge base's bucket and starts its ingestion.",
        )  # fmt: skip
        documents = _corpus_documents(corpus_dir)

        # --- vector store --------------------------------------------------------------
        vector_bucket = s3vectors.CfnVectorBucket(self, "VectorBucket")
        self.vector_index = s3vectors.CfnIndex(
            self,
            "VectorIndex",
            vector_bucket_arn=vector_bucket.attr_vector_bucket_arn,
            data_type="float32",
            dimension=dimensions,
            distance_metric="cosine",
            metadata_configuration=s3vectors.CfnIndex.MetadataConfigurationProperty(
                non_filterable_metadata_keys=_BEDROCK_METADATA_KEYS
            ),
        )

        # --- the knowledge base and its service role ----------------------------------------
        stack = Stack.of(self)
        kb_role = iam.Role(
            self,
            "ServiceRole",
            description="Lets Amazon Bedrock embed the corpus and read/write its S3 vector index.",
            assumed_by=bedrock_principal(self, "knowledge-base/*"),
        )
        embed_arns, _ = model_arns(self, embedding_model_id)
        kb_policy = iam.Policy(
            self,
            "ServicePolicy",
            roles=[kb_role],
            statements=[
                iam.PolicyStatement(sid="EmbedCorpus", actions=["bedrock:InvokeModel"], resources=embed_arns),
                iam.PolicyStatement(
                    sid="ListCorpus",
                    actions=["s3:ListBucket"],
                    resources=[self.corpus_bucket.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": [f"{DOCS_PREFIX}*"]}},
                ),
                iam.PolicyStatement(
                    sid="ReadCorpus",
                    actions=["s3:GetObject"],
                    resources=[self.corpus_bucket.arn_for_objects(f"{DOCS_PREFIX}*")],
                ),
                iam.PolicyStatement(
                    sid="UseVectorIndex",
                    actions=[
                        "s3vectors:GetIndex",
                        "s3vectors:PutVectors",
                        "s3vectors:GetVectors",
                        "s3vectors:DeleteVectors",
                        "s3vectors:QueryVectors",
                    ],
                    resources=[self.vector_index.attr_index_arn],
                ),
            ],
        )
        acknowledge(
            kb_policy,
            f"AwsSolutions-IAM5[Resource::<{stack.get_logical_id(self.corpus_bucket.node.default_child)}.Arn>/{DOCS_PREFIX}*]",
            "Bedrock must read every document under the corpus prefix; the grant stops at that prefix of this bucket.",
        )

        self.knowledge_base = bedrock.CfnKnowledgeBase(
            self,
            "Resource",
            name=Names.unique_resource_name(self, max_length=90, separator="-"),
            description="Sample corpus of the LLM observability reference application.",
            role_arn=kb_role.role_arn,
            knowledge_base_configuration=bedrock.CfnKnowledgeBase.KnowledgeBaseConfigurationProperty(
                type="VECTOR",
                vector_knowledge_base_configuration=bedrock.CfnKnowledgeBase.VectorKnowledgeBaseConfigurationProperty(
                    embedding_model_arn=embed_arns[0],
                    embedding_model_configuration=bedrock.CfnKnowledgeBase.EmbeddingModelConfigurationProperty(
                        bedrock_embedding_model_configuration=bedrock.CfnKnowledgeBase.BedrockEmbeddingModelConfigurationProperty(
                            dimensions=dimensions, embedding_data_type="FLOAT32"
                        )
                    ),
                ),
            ),
            storage_configuration=bedrock.CfnKnowledgeBase.StorageConfigurationProperty(
                type="S3_VECTORS",
                s3_vectors_configuration=bedrock.CfnKnowledgeBase.S3VectorsConfigurationProperty(
                    index_arn=self.vector_index.attr_index_arn
                ),
            ),
        )
        self.knowledge_base.node.add_dependency(kb_policy)

        data_source = bedrock.CfnDataSource(
            self,
            "DataSource",
            knowledge_base_id=self.knowledge_base.attr_knowledge_base_id,
            name="sample-corpus",
            data_source_configuration=bedrock.CfnDataSource.DataSourceConfigurationProperty(
                type="S3",
                s3_configuration=bedrock.CfnDataSource.S3DataSourceConfigurationProperty(
                    bucket_arn=self.corpus_bucket.bucket_arn, inclusion_prefixes=[DOCS_PREFIX]
                ),
            ),
            vector_ingestion_configuration=bedrock.CfnDataSource.VectorIngestionConfigurationProperty(
                chunking_configuration=bedrock.CfnDataSource.ChunkingConfigurationProperty(
                    chunking_strategy="FIXED_SIZE",
                    fixed_size_chunking_configuration=bedrock.CfnDataSource.FixedSizeChunkingConfigurationProperty(
                        max_tokens=300, overlap_percentage=20
                    ),
                )
            ),
        )

        # --- the corpus: one S3 object per document, written (and deleted) by the stack ----------
        # The documents are small text files carried in the template, so no bundling Lambda and no
        # 20 MB AWS CLI layer (s3deploy.BucketDeployment) is needed.
        self.corpus_role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteCorpus",
                actions=["s3:PutObject", "s3:DeleteObject"],
                resources=[self.corpus_bucket.arn_for_objects(f"{DOCS_PREFIX}*")],
            )
        )
        acknowledge(
            self.corpus_role,
            f"AwsSolutions-IAM5[Resource::<{stack.get_logical_id(self.corpus_bucket.node.default_child)}.Arn>/{DOCS_PREFIX}*]",
            "The stack writes and deletes the corpus documents under this one prefix of this one bucket.",
        )
        uploads = []
        for index, (key, body) in enumerate(documents):
            target = {"Bucket": self.corpus_bucket.bucket_name, "Key": f"{DOCS_PREFIX}{key}"}
            put = cr.AwsSdkCall(
                service="s3", action="PutObject",
                parameters={**target, "Body": body, "ContentType": _content_type(key)},
                physical_resource_id=cr.PhysicalResourceId.of(f"{DOCS_PREFIX}{key}"),
            )  # fmt: skip
            uploads.append(
                cr.AwsCustomResource(
                    self, f"Document{index}", on_create=put, on_update=put,
                    on_delete=cr.AwsSdkCall(service="s3", action="DeleteObject", parameters=target),
                    role=self.corpus_role, log_group=corpus_logs, timeout=Duration.minutes(2),
                )  # fmt: skip
            )

        # --- ingestion run on deploy (and again whenever the corpus changes) ----------------
        self.corpus_role.add_to_policy(
            iam.PolicyStatement(actions=["bedrock:StartIngestionJob"], resources=[self.knowledge_base.attr_knowledge_base_arn])
        )
        start_ingestion = cr.AwsSdkCall(
            service="bedrock-agent",
            action="StartIngestionJob",
            parameters={
                "knowledgeBaseId": self.knowledge_base.attr_knowledge_base_id,
                "dataSourceId": data_source.attr_data_source_id,
                "clientToken": corpus_fingerprint(corpus_dir),
                "description": "Ingest the sample corpus after deploy.",
            },
            physical_resource_id=cr.PhysicalResourceId.from_response("ingestionJob.ingestionJobId"),
            output_paths=["ingestionJob.ingestionJobId"],
        )
        ingestion = cr.AwsCustomResource(
            self,
            "Ingestion",
            on_create=start_ingestion,
            on_update=start_ingestion,
            role=self.corpus_role,
            log_group=corpus_logs,
            timeout=Duration.minutes(2),
        )
        for upload in uploads:
            ingestion.node.add_dependency(upload)
        # aws-cdk-lib's one provider function of AwsCustomResource in this stack (a SingletonFunction's id).
        provider_id = "AWS" + cr.AwsCustomResource.PROVIDER_FUNCTION_UUID.replace("-", "")
        provider = Stack.of(self).node.try_find_child(provider_id)
        if provider is not None:
            checkov.skip(
                provider, "CKV_AWS_116",
                "CloudFormation invokes this custom-resource provider synchronously and retries nothing; a "
                "dead-letter queue applies to asynchronous invocations only.",
            )  # fmt: skip

        self.knowledge_base_id: str = self.knowledge_base.attr_knowledge_base_id
        self.knowledge_base_arn: str = self.knowledge_base.attr_knowledge_base_arn
