"""One durable job queue for work that outlives a request: deploys, undeploys, rollbacks (and later schedule runs,
bot events, email reports). Jobs are Store records committed with the change that needs them; a JobRunner drains
them (a thread of ``fngate serve`` locally; an SQS-fed Lambda on AWS, see ``jobs.sqs``)."""

from chalicelib.jobs.base import Dispatcher, Handler, NoDispatch
from chalicelib.jobs.model import Backoff, Job
from chalicelib.jobs.queue import JobQueue, Lease, Slots
from chalicelib.jobs.runner import JobRunner

__all__ = ["Backoff", "Dispatcher", "Handler", "Job", "JobQueue", "JobRunner", "Lease", "NoDispatch", "Slots"]
