export declare function uniqueJpeg(size?: number): Buffer;
