"""What fires schedules: a thread of ``fngate serve`` locally (local.py), EventBridge Scheduler on AWS
(eventbridge.py, which mirrors each schedule). Both only claim due slots through ScheduleService; the runs are jobs."""
