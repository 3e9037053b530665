"""Job lifecycle: tuning service, job log, promotion, registry actions, scheduler, builder."""
