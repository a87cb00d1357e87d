export declare function uniqueJpeg(size?: number): Buffer;
export declare function writeLargeJpeg(path: string, size: number, fill?: Buffer): Promise<void>;
