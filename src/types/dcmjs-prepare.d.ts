/** The parts of dcmjs that prepare/ uses (dcmjs ships no types). */
declare module 'dcmjs' {
  export namespace data {
    interface DicomDictLike {
      meta: Record<string, { vr: string; Value?: unknown[] }>;
      dict: Record<string, { vr: string; Value?: unknown[] }>;
      write(options?: Record<string, unknown>): ArrayBuffer;
    }
    class DicomMessage {
      static readFile(buffer: ArrayBuffer, options?: { untilTag?: string; includeUntilTagValue?: boolean; ignoreErrors?: boolean }): DicomDictLike;
    }
    class DicomDict implements DicomDictLike {
      constructor(meta: Record<string, unknown>);
      meta: Record<string, { vr: string; Value?: unknown[] }>;
      dict: Record<string, { vr: string; Value?: unknown[] }>;
      write(options?: Record<string, unknown>): ArrayBuffer;
    }
    class DicomMetaDictionary {
      static naturalizeDataset(dict: Record<string, unknown>): Record<string, unknown>;
      static denaturalizeDataset(dataset: Record<string, unknown>): Record<string, { vr: string; Value?: unknown[] }>;
    }
  }
}
