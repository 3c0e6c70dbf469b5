import TesseraCore

extension ShardedParameterClient: ParameterAccess {}
