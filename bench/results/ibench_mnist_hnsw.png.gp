set terminal pngcairo size 1100,750 noenhanced font 'DejaVu Sans,10'
set output 'bench/results/ibench_mnist_hnsw.png'
set logscale x
set xlabel 'queries per second (log scale)'
set ylabel 'recall@10'
set grid
set key outside right top
set title 'mnist10k (n=9000, k=10): solid = 1 thread, dashed = 2 threads'
$d0 << EOD
1839.257 0.98770
2014.710 0.98770
2348.089 0.99300
1586.952 0.99580
740.224 0.99740
791.498 0.99790
358.964 0.99920
EOD
$d1 << EOD
1759.907 0.98770
2681.649 0.98770
2841.717 0.99300
1703.959 0.99580
1036.155 0.99740
1168.482 0.99790
566.466 0.99920
EOD
$d2 << EOD
EOD
$d3 << EOD
EOD
$d4 << EOD
2872.358 0.95400
1833.481 0.98140
1452.834 0.99300
1168.879 0.99610
748.080 0.99830
670.743 0.99880
342.522 0.99990
EOD
$d5 << EOD
2722.181 0.95400
3154.348 0.98140
1654.037 0.99300
1331.583 0.99610
957.687 0.99830
748.439 0.99880
411.858 0.99990
EOD
$d6 << EOD
349.635 0.97890
300.353 0.99060
271.017 0.99670
266.288 0.99850
177.667 0.99930
133.853 0.99950
87.621 1.00000
EOD
$d7 << EOD
474.045 0.97890
387.283 0.99060
433.273 0.99670
300.373 0.99850
218.420 0.99930
189.132 0.99950
109.266 1.00000
EOD
plot $d0 using 1:2 with linespoints lc 1 dt 1 pt 1 title 'hnsw:m=16,efc=200/sq8/rerank=2', \
     $d1 using 1:2 with linespoints lc 1 dt 2 pt 1 title 'hnsw:m=16,efc=200/sq8/rerank=2 (2 thr)', \
     $d2 using 1:2 with linespoints lc 2 dt 1 pt 2 title 'hnsw:m=16,efc=200/tq:bits=4/rerank=4', \
     $d3 using 1:2 with linespoints lc 2 dt 2 pt 2 title 'hnsw:m=16,efc=200/tq:bits=4/rerank=4 (2 thr)', \
     $d4 using 1:2 with linespoints lc 3 dt 1 pt 3 title 'hnswlib:m=16,efc=200', \
     $d5 using 1:2 with linespoints lc 3 dt 2 pt 3 title 'hnswlib:m=16,efc=200 (2 thr)', \
     $d6 using 1:2 with linespoints lc 4 dt 1 pt 4 title 'faiss:HNSW32,Flat', \
     $d7 using 1:2 with linespoints lc 4 dt 2 pt 4 title 'faiss:HNSW32,Flat (2 thr)'
