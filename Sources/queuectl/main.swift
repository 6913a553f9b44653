import QueueControl

#if canImport(Glibc)
    import Glibc
#endif

// queuectl: the commands live in QueueControl (tested in-process); this only runs them on the process's console.
exit(await QueueCtl.run(Array(CommandLine.arguments.dropFirst())))
