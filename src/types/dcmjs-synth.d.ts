// The parts of dcmjs the synthetic cohort writer uses (dcmjs ships no types).
declare module 'dcmjs' {
  namespace data {
    class DicomDict {
      constructor(meta: Record<string, unknown>);
      dict: Record<string, unknown>;
      meta: Record<string, unknown>;
      write(options?: Record<string, unknown>): ArrayBuffer;
    }
    class DicomMessage {
      static readFile(buffer: ArrayBuffer, options?: Record<string, unknown>): DicomDict;
    }
    class DicomMetaDictionary {
      static denaturalizeDataset(dataset: Record<string, unknown>): Record<string, unknown>;
      static naturalizeDataset(dataset: Record<string, unknown>): Record<string, unknown>;
    }
  }
}
